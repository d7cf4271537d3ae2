"""Caches for the fast DeepSeek-V4 path: no O(T) copy per step, batch 1.

Owns, per decoder layer:
- the sliding window of the shared K=V head (`WindowBuffer`): a preallocated buffer twice the window
  that is compacted (the last window-1 rows moved to the front) when full, so a decode step costs
  O(1) amortized and every view handed to attention is contiguous and in position order;
- the compressor state (`CompressorState`): the < ratio tokens waiting for their window to close,
  the previous window's Ca half for CSA's overlapping windows, and the compressed entries;
- for CSA layers a second `CompressorState` for the lightning indexer's keys.
Compressed entries live in `AppendBuffer`s: preallocated when the caller knows the final length
(`V4Cache(config, max_length=...)`), otherwise grown geometrically (amortized O(1) per entry).

`V4Cache.state_dict()` / `V4Cache.from_state(config, tensors, meta)` export and rebuild the whole
state (the persistent prefix cache, engine/prefix_cache.py, stores it as safetensors).
`V4Cache` is a transformers `Cache`, so `generate` and `past_key_values=` accept it. The layer
class sets no `_layer_type`, so nothing is registered in transformers' global mappings.
Does not know the pooling math or attention (engine/deepseek_v4/attention.py does).
"""

import torch
from transformers.cache_utils import Cache, CacheLayerMixin


class AppendBuffer:
    """Rows appended at the end of one growing tensor; `view()` is the filled prefix."""

    def __init__(self, capacity: int = 0):
        self.capacity = capacity
        self.data: torch.Tensor | None = None
        self.length = 0

    def append(self, rows: torch.Tensor) -> torch.Tensor:
        need = self.length + rows.shape[0]
        if self.data is None or need > self.data.shape[0]:
            held = 0 if self.data is None else self.data.shape[0]
            size = max(need, self.capacity, 2 * held, 16)
            grown = rows.new_empty((size, *rows.shape[1:]))
            if self.data is not None:
                grown[: self.length] = self.data[: self.length]
            self.data = grown
        self.data[self.length : need] = rows
        self.length = need
        return self.view()

    def view(self) -> torch.Tensor | None:
        return None if self.data is None else self.data[: self.length]


class WindowBuffer:
    """The last `window - 1` K=V rows plus the rows being attended to now, contiguous."""

    def __init__(self, window: int):
        self.window = window
        self.data: torch.Tensor | None = None
        self.length = 0  # filled rows of `data`
        self.seen = 0  # absolute position after the last stored row

    def extend(self, rows: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Store `rows` (C, D) and return (keys, first position): the kept tail plus `rows`."""
        keep = self.window - 1
        n_new = rows.shape[0]
        if self.data is None:
            self.data = rows.new_empty((2 * self.window, rows.shape[1]))
        tail_len = min(self.length, keep)
        if self.length + n_new > self.data.shape[0]:
            tail = self.data[self.length - tail_len : self.length]
            if tail_len + n_new > self.data.shape[0]:  # a chunk longer than the buffer
                keys = torch.cat([tail, rows])
                self.data[:keep] = keys[-keep:] if keep else keys[:0]
                self.length = min(keep, keys.shape[0])
                self.seen += n_new
                return keys, self.seen - keys.shape[0]
            self.data[:tail_len] = tail.clone()
            self.length = tail_len
        self.data[self.length : self.length + n_new] = rows
        self.length += n_new
        self.seen += n_new
        keys = self.data[self.length - n_new - tail_len : self.length]
        return keys, self.seen - keys.shape[0]


class CompressorState:
    """Pending tokens, the CSA overlap half and the compressed entries of one compressor."""

    def __init__(self, ratio: int, capacity: int = 0):
        self.ratio = ratio
        self.pending_kv: torch.Tensor | None = None
        self.pending_gate: torch.Tensor | None = None
        self.prior_kv: torch.Tensor | None = None
        self.prior_gate: torch.Tensor | None = None
        self.entries = AppendBuffer(capacity)

    @property
    def count(self) -> int:
        return self.entries.length

    def take_windows(self, kv: torch.Tensor, gate: torch.Tensor):
        """Prepend pending tokens; return the window-aligned prefix and its first position."""
        first = self.count * self.ratio
        if self.pending_kv is not None and self.pending_kv.shape[1]:
            kv = torch.cat([self.pending_kv, kv], dim=1)
            gate = torch.cat([self.pending_gate, gate], dim=1)
        usable = (kv.shape[1] // self.ratio) * self.ratio
        self.pending_kv, self.pending_gate = kv[:, usable:], gate[:, usable:]
        return kv[:, :usable], gate[:, :usable], first

    def swap_prior(self, chunk_kv: torch.Tensor, chunk_gate: torch.Tensor, head_dim: int):
        """Return the previous call's last Ca half and keep this call's (CSA overlap)."""
        prior = self.prior_kv, self.prior_gate
        self.prior_kv = chunk_kv[:, -1, :, :head_dim].clone()
        self.prior_gate = chunk_gate[:, -1, :, :head_dim].clone()
        return prior


class V4LayerCache(CacheLayerMixin):
    """One decoder layer's state: window, and compressor (+ indexer) for CSA/HCA layers."""

    is_sliding = True

    def __init__(self, layer_type: str, config, max_length: int | None = None):
        super().__init__()
        self.layer_type = layer_type
        self.window = WindowBuffer(config.sliding_window)
        self.compressor = self.indexer = None
        if layer_type != "sliding_attention":
            ratio = config.compress_rates[layer_type]
            capacity = (max_length // ratio + 1) if max_length else 0
            self.compressor = CompressorState(ratio, capacity)
            if layer_type == "compressed_sparse_attention":
                self.indexer = CompressorState(ratio, capacity)

    def lazy_initialization(self, key_states, value_states) -> None:
        self.is_initialized = True

    def update(self, key_states, value_states, *args, **kwargs):
        raise TypeError("V4LayerCache is filled by engine.deepseek_v4.attention, "
                        "not by Cache.update")

    def get_seq_length(self) -> int:
        return self.window.seen

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        kept = min(self.window.seen, self.window.window - 1)
        return kept + query_length, self.window.seen - kept

    def get_max_length(self) -> int:
        return -1

    def reset(self) -> None:
        self.window = WindowBuffer(self.window.window)
        for name in ("compressor", "indexer"):
            state = getattr(self, name)
            if state is not None:
                setattr(self, name, CompressorState(state.ratio, state.entries.capacity))

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        if beam_idx.numel() != 1 or int(beam_idx[0]) != 0:
            raise ValueError("the fast V4 cache holds one sequence (batch 1); "
                             "run one call per sequence")


def make_layers(config, max_length: int | None = None) -> list[V4LayerCache]:
    return [V4LayerCache(t, config, max_length) for t in config.layer_types]


_COMPRESSOR_FIELDS = ("pending_kv", "pending_gate", "prior_kv", "prior_gate")


class V4Cache(Cache):
    """The whole model's fast cache; pass it as `past_key_values` (prefill, decode, generate)."""

    def __init__(self, config, max_length: int | None = None):
        super().__init__(layers=make_layers(config, max_length))

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, meta): a detached copy of everything a later forward reads, partial
        compression windows and the CSA overlap half included; `from_state` rebuilds it."""
        tensors, layers = {}, []
        for i, layer in enumerate(self.layers):
            window = layer.window
            if window.data is not None:
                kept = min(window.length, window.window - 1)
                tensors[f"{i}.window"] = window.data[window.length - kept : window.length].clone()
            layers.append({"type": layer.layer_type, "seen": window.seen})
            for name in ("compressor", "indexer"):
                state = getattr(layer, name)
                if state is None:
                    continue
                for field in _COMPRESSOR_FIELDS:
                    value = getattr(state, field)
                    if value is not None:
                        tensors[f"{i}.{name}.{field}"] = value.clone().contiguous()
                if state.entries.data is not None:
                    tensors[f"{i}.{name}.entries"] = state.entries.view().clone()
        return tensors, {"format": 1, "tokens": self.get_seq_length(), "layers": layers}

    @classmethod
    def from_state(cls, config, tensors: dict[str, torch.Tensor], meta: dict,
                   max_length: int | None = None) -> "V4Cache":
        """The cache `state_dict` described, on the tensors' device."""
        cache = cls(config, max_length)
        if [layer["type"] for layer in meta["layers"]] != list(config.layer_types):
            raise ValueError("V4 cache state was saved for other layer types")
        for i, (layer, saved) in enumerate(zip(cache.layers, meta["layers"])):
            rows = tensors.get(f"{i}.window")
            if rows is not None:
                window = layer.window
                window.data = rows.new_empty((2 * window.window, rows.shape[1]))
                window.data[: rows.shape[0]] = rows
                window.length = rows.shape[0]
            layer.window.seen = int(saved["seen"])
            for name in ("compressor", "indexer"):
                state = getattr(layer, name)
                if state is None:
                    continue
                for field in _COMPRESSOR_FIELDS:
                    setattr(state, field, tensors.get(f"{i}.{name}.{field}"))
                entries = tensors.get(f"{i}.{name}.entries")
                if entries is not None:
                    state.entries.append(entries)
        return cache


def adopt(cache: Cache | None, config) -> Cache | None:
    """Make `cache` hold fast V4 layers: a V4Cache as is, an empty transformers cache refitted.

    `generate` builds a default DynamicCache before the first forward; while it is still empty its
    layers are swapped for `V4LayerCache`s on that instance (nothing global changes).
    """
    if cache is None or isinstance(cache, V4Cache):
        return cache
    if cache.layers and all(isinstance(layer, V4LayerCache) for layer in cache.layers):
        return cache
    if cache.get_seq_length() != 0:
        raise ValueError("a transformers cache that already holds tokens cannot feed the fast path")
    cache.layers = make_layers(config)
    return cache
