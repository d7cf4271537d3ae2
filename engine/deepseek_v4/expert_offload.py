"""Expert-granular offload for native-precision V4: move only the routed experts, never a layer.

Why: accelerate's `device_map` offload copies a whole decoder layer per forward (all 256
experts, ~3.4 GB in FP4 for V4-Flash) where a token needs 6 routed experts (~80 MB): ~44x the
necessary traffic (../shared/research/ENGINE_ANCHORS.md sections 3, 6, 9.6). Policy here:
attention, shared experts, norms, embeddings, head and the hottest routed experts live on the
"device"; every routed expert keeps its packed FP4 bytes in "host" RAM (pinned on CUDA). A cold
expert a token routes to is either
- "fetch": copied alone host->device (all of a layer's fetches are issued before the first is
  used, on a side stream with pinned memory on CUDA, so copies overlap compute), or
- "host": computed where it lives; the activations move, the weights do not.
`OffloadCounters` count weight bytes moved host->device, activation bytes moved, expert hits
on device and on host, and tokens, so traffic per token can be checked. On a CPU-only machine
"host" and "device" are both the CPU and the same code path runs (the copies are real copies),
which is how CI checks that per-token traffic is the routed experts' bytes, not the layer's.

Does not know: checkpoints (engine/deepseek_v4/native/loader.py), planning for machines that are
not this one (engine/deepseek_v4/planner.py), kernels (engine/deepseek_v4/native/modules.py
computes an expert).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from engine.deepseek_v4 import format as v4_format
from engine.deepseek_v4.native.modules import Fp4Experts, expert_ffn, resident_bytes

MODES = ("fetch", "host")


@dataclass
class OffloadCounters:
    tokens: int = 0
    bytes_h2d: int = 0  # expert weight bytes copied host -> device
    bytes_disk: int = 0  # expert weight bytes read from memory-mapped checkpoint files
    activation_bytes: int = 0  # activations sent to and back from host-computed experts
    device_hits: int = 0  # (layer, expert) uses served by a device-resident expert
    host_hits: int = 0  # uses served from host (fetched or computed there)
    per_layer_h2d: dict = field(default_factory=dict)

    def reset(self) -> None:
        self.__init__()

    def per_token(self) -> dict:
        n = max(self.tokens, 1)
        return {"tokens": self.tokens, "bytes_h2d_per_token": self.bytes_h2d / n,
                "bytes_disk_per_token": self.bytes_disk / n,
                "activation_bytes_per_token": self.activation_bytes / n,
                "expert_hits_per_token": (self.device_hits + self.host_hits) / n,
                "device_hits_per_token": self.device_hits / n,
                "host_hits_per_token": self.host_hits / n}

    def to_dict(self) -> dict:
        return asdict(self) | self.per_token()


class OffloadedExperts(Fp4Experts):
    """An `Fp4Experts` whose experts live per expert on the device (`hot`), in host RAM
    (`host_store`) or on disk (`disk_store`: memory-mapped views of the checkpoint's w1/w3/w2
    weights and scales, engine/deepseek_v4/native/mapped.py). Stores are plain attributes, not
    buffers: `model.to(device)` must not move them."""

    def __init__(self, num_experts: int, hidden: int, intermediate: int, limit: float,
                 dtype: torch.dtype, layer: int, device: torch.device, host: torch.device,
                 mode: str, counters: OffloadCounters, backend: str | None = None):
        torch.nn.Module.__init__(self)
        self.num_experts, self.hidden_dim = num_experts, hidden
        self.intermediate_dim, self.limit = intermediate, limit
        self.compute_dtype, self.backend = dtype, backend
        self.layer, self.device, self.host, self.mode = layer, device, host, mode
        self.counters = counters
        self.hot: dict[int, tuple[torch.Tensor, ...]] = {}
        self.host_store: dict[int, tuple[torch.Tensor, ...]] = {}
        self.disk_store: dict[int, dict[str, torch.Tensor]] = {}
        self._stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    @classmethod
    def from_source(cls, source: Fp4Experts, layer: int, device: torch.device,
                    host: torch.device, hot: list[int], mode: str,
                    counters: OffloadCounters) -> "OffloadedExperts":
        """Every expert of a loaded `Fp4Experts` in host RAM, `hot` ones also on device."""
        new = cls(source.num_experts, source.hidden_dim, source.intermediate_dim, source.limit,
                  source.compute_dtype, layer, device, host, mode, counters, source.backend)
        pin = device.type == "cuda" and host.type == "cpu"
        stores = []
        for name in ("gate_up", "gate_up_scale", "down", "down_scale"):
            store = getattr(source, name).to(host)
            stores.append(store.pin_memory() if pin else store)
        new.host_store = {e: tuple(t[e] for t in stores) for e in range(source.num_experts)}
        new.hot = {e: tuple(t.to(device, copy=True) for t in new.host_store[e]) for e in hot}
        return new

    def shapes(self) -> dict[str, tuple[tuple[int, int], torch.dtype]]:
        """Per stored tensor of one expert: (shape, dtype), in `packed()` order."""
        h, i, g = self.hidden_dim, self.intermediate_dim, v4_format.FP4_GROUP
        return {"gate_up": ((2 * i, h // 2), torch.int8),
                "gate_up_scale": ((2 * i, h // g), v4_format.E8M0_DTYPE),
                "down": ((h, i // 2), torch.int8),
                "down_scale": ((h, i // g), v4_format.E8M0_DTYPE)}

    def expert_bytes(self) -> int:
        return sum(r * c for (r, c), _ in self.shapes().values())  # all 1-byte types

    def held_bytes(self) -> dict[str, int]:
        """Bytes of experts per tier: "device", "host" (RAM) and "disk" (mapped, not read)."""
        return {"device": len(self.hot) * self.expert_bytes(),
                "host": len(self.host_store) * self.expert_bytes(),
                "disk": len(self.disk_store) * self.expert_bytes()}

    def check_complete(self) -> None:
        """Raise unless every expert sits in one store, with all of its tensors."""
        from engine.errors import ModelLoadError

        for e in range(self.num_experts):
            where = [e in self.hot, e in self.host_store, e in self.disk_store]
            parts = self.__dict__.get("parts", {}).get(e)
            if sum(where) != 1 or (e in self.disk_store and len(self.disk_store[e]) != 6) \
                    or (parts is not None and len(parts) != 6):
                raise ModelLoadError(f"layer {self.layer}: expert {e} is missing tensors")

    def _host(self, expert: int) -> tuple[torch.Tensor, ...]:
        """The expert's packed tensors in host memory; a disk expert is read (copied) now."""
        stored = self.host_store.get(expert)
        if stored is not None:
            return stored
        views = self.disk_store[expert]  # w1/w3 stacked into gate_up, as Fp4Experts holds them
        out = (torch.cat([views["w1.weight"], views["w3.weight"]]),
               torch.cat([views["w1.scale"], views["w3.scale"]]),
               views["w2.weight"].clone(), views["w2.scale"].clone())
        self.counters.bytes_disk += self.expert_bytes()
        return out

    def _fetch(self, expert: int):
        """Start copying one expert to the device; returns (tensors, ready event or None)."""
        nbytes = self.expert_bytes()
        self.counters.bytes_h2d += nbytes
        self.counters.per_layer_h2d[self.layer] = self.counters.per_layer_h2d.get(
            self.layer, 0) + nbytes
        source = self._host(expert)
        if expert in self.disk_store and self.device == self.host:
            return source, None  # the read from disk already is the copy
        if self._stream is None:
            return tuple(t.to(self.device, copy=True) for t in source), None
        with torch.cuda.stream(self._stream):
            tensors = tuple(t.to(self.device, non_blocking=True) for t in source)
            ready = torch.cuda.Event()
            ready.record(self._stream)
        return tensors, ready

    def forward(self, hidden_states, top_k_index, top_k_weights):
        final = torch.zeros_like(hidden_states)
        if hidden_states.shape[0] == 0:
            return final
        with torch.no_grad():
            mask = torch.nn.functional.one_hot(top_k_index, self.num_experts).permute(2, 1, 0)
            hit = mask.sum(dim=(-1, -2)).nonzero().flatten().tolist()  # (E, k, N) -> experts
        cold = [e for e in hit if e not in self.hot]
        self.counters.device_hits += len(hit) - len(cold)
        self.counters.host_hits += len(cold)
        staged = {e: self._fetch(e) for e in cold} if self.mode == "fetch" else {}
        for expert in hit:
            slot, token = torch.where(mask[expert])
            x = hidden_states[token]
            if expert in self.hot:
                y = expert_ffn(x, *self.hot[expert], self.limit, self.compute_dtype, self.backend)
            elif self.mode == "fetch":
                tensors, ready = staged.pop(expert)
                if ready is not None:
                    torch.cuda.current_stream(self.device).wait_event(ready)
                y = expert_ffn(x, *tensors, self.limit, self.compute_dtype, self.backend)
            else:  # computed where the weights live: only activations cross
                xh = x.to(self.host)
                y = expert_ffn(xh, *self._host(expert), self.limit, self.compute_dtype,
                               None).to(self.device)
                self.counters.activation_bytes += (xh.numel() * xh.element_size()
                                                   + y.numel() * y.element_size())
            final.index_add_(0, token, (y * top_k_weights[token, slot, None]).to(final.dtype))
        return final


def expert_layers(model) -> dict[int, Fp4Experts]:
    """Layer index -> its routed experts module (native FP4 layers only)."""
    return {i: layer.mlp.experts for i, layer in enumerate(model.model.layers)
            if isinstance(layer.mlp.experts, Fp4Experts)}


def profile_expert_counts(model, input_ids: torch.Tensor) -> dict[int, list[int]]:
    """How often each routed expert is picked over `input_ids` (one forward): the heat map."""
    counts: dict[int, list[int]] = {}
    handles = []
    for i, experts in expert_layers(model).items():
        counts[i] = [0] * experts.num_experts

        def hook(module, args, i=i):
            for e in args[1].flatten().tolist():
                counts[i][e] += 1
        handles.append(experts.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model(input_ids=input_ids, use_cache=False)
    finally:
        for h in handles:
            h.remove()
    return counts


def choose_hot(model, device_budget: int | None, counts: dict[int, list[int]] | None = None,
               non_expert_bytes: int | None = None) -> dict[int, list[int]]:
    """The hottest (layer, expert) pairs that fit in `device_budget` bytes after the dense part.

    Without counts every expert is equally hot (then earlier ids first, spread across layers)."""
    layers = expert_layers(model)
    if device_budget is None:
        return {i: list(range(m.num_experts)) for i, m in layers.items()}
    if non_expert_bytes is None:
        experts_total = sum(resident_bytes(m) for m in layers.values())
        non_expert_bytes = resident_bytes(model) - experts_total
    free = device_budget - non_expert_bytes
    ranked = sorted(((-(counts or {}).get(i, [0] * m.num_experts)[e], e, i)
                     for i, m in layers.items() for e in range(m.num_experts)))
    hot: dict[int, list[int]] = {i: [] for i in layers}
    for _, e, i in ranked:
        cost = layers[i].expert_bytes()
        if free < cost:
            break
        hot[i].append(e)
        free -= cost
    return hot


class ExpertOffload:
    """The applied placement of one model: its counters and what is where."""

    def __init__(self, counters: OffloadCounters, hot: dict[int, list[int]], mode: str,
                 device: torch.device, host: torch.device, expert_bytes: int):
        self.counters, self.hot, self.mode = counters, hot, mode
        self.device, self.host, self.expert_bytes = device, host, expert_bytes

    def summary(self) -> dict:
        return {"mode": self.mode, "device": str(self.device), "host": str(self.host),
                "hot_experts": sum(len(v) for v in self.hot.values()),
                "expert_bytes": self.expert_bytes, **self.counters.per_token()}


def apply_expert_offload(model, device="cpu", host="cpu", device_budget: int | None = None,
                         hot: dict[int, list[int]] | None = None, mode: str = "fetch",
                         counts: dict[int, list[int]] | None = None) -> ExpertOffload:
    """Place a native V4 model: dense part + hot experts on `device`, expert store on `host`.

    `hot` names device-resident experts per layer; else they are chosen from `counts` (see
    `profile_expert_counts`) to fill `device_budget` bytes (None: no budget, none hot unless
    `hot` says so). Returns the `ExpertOffload` whose counters the forward passes update."""
    if mode not in MODES:
        raise ValueError(f"unknown offload mode {mode!r}; choose one of {MODES}")
    device, host = torch.device(device), torch.device(host)
    layers = expert_layers(model)
    if not layers:
        raise ValueError("no native FP4 expert layers: load the model with load_v4_native")
    if hot is None:
        hot = choose_hot(model, device_budget, counts) if device_budget is not None else {}
    counters = OffloadCounters()
    for i, experts in layers.items():
        model.model.layers[i].mlp.experts = OffloadedExperts.from_source(
            experts, i, device, host, sorted(hot.get(i, [])), mode, counters)
    model.to(device)
    count_tokens(model, counters)
    first = next(iter(layers.values()))
    return ExpertOffload(counters, hot, mode, device, host, first.expert_bytes())


def count_tokens(model, counters: OffloadCounters) -> None:
    """Count every forward's tokens into `counters` (per-token traffic needs the divisor)."""
    def hook(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        embeds = kwargs.get("inputs_embeds")
        counters.tokens += ids.numel() if ids is not None else embeds.shape[:-1].numel()
    model.register_forward_pre_hook(hook, with_kwargs=True)


def count_accelerate_traffic(model) -> dict:
    """Wrap accelerate's offload weights maps so every tensor they hand out is counted.

    Returns a dict whose "bytes" grows as offloaded modules run (what `AlignDevicesHook` moves
    to the execution device per forward: whole modules, every expert of a layer)."""
    from collections.abc import Mapping

    tally = {"bytes": 0, "reads": 0}

    class Counting(Mapping):
        def __init__(self, inner):
            self.inner = inner

        def __getitem__(self, key):
            value = self.inner[key]
            tally["bytes"] += value.numel() * value.element_size()
            tally["reads"] += 1
            return value

        def __iter__(self):
            return iter(self.inner)

        def __len__(self):
            return len(self.inner)

    for module in model.modules():
        hook = getattr(module, "_hf_hook", None)
        for h in getattr(hook, "hooks", None) or ([hook] if hook is not None else []):
            if getattr(h, "offload", False) and getattr(h, "weights_map", None) is not None:
                h.weights_map = Counting(h.weights_map)
    return tally
