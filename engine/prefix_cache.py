"""A persistent, on-disk KV cache of prompt prefixes: the second question about a library skips
the library's prefill.

Why: synthesis packs the stable library first and the question last (DESIGN.md section 3), so
follow-up questions share a long token prefix. Prefill of that prefix dominates time to first
token on a CPU (minutes at 8K tokens for the embedded default); reading its KV back from disk
takes well under a second.

Keys are exact. Prompts are cut in blocks of `block` tokens and each block boundary gets a
chained hash: h_0 = the model's identity, h_i = sha256(h_{i-1} + the ids of block i). An entry
holds the KV of one prompt's first `b` tokens (b the last boundary before its final token);
a small ref file per boundary hash names the entry, so a later prompt reuses the longest
boundary it shares with any stored prompt, and the entry's KV is cut to that boundary (KV of a
causal model's prefix does not depend on what follows). A changed document changes every hash
from its first changed block on, and a changed model (config, weights, adapter, dtype) changes
h_0, so stale KV is never served. Entries are evicted oldest-first past `max_bytes`.

The model's identity is a fingerprint: config, every parameter/buffer's name, shape and dtype,
and a strided sample of its bytes (cheap at load; a fine-tune or merged adapter changes it).

Caches: transformers `DynamicCache` with full-attention layers (the embedded default and any
plain HF causal LM), stored losslessly as safetensors; and the fast DeepSeek-V4 path's `V4Cache`
(engine/deepseek_v4.py): its whole state (window rows, compressed entries, indexer keys, pending
tokens of unfinished compression windows, the CSA overlap half) as safetensors plus a JSON meta
in the file's metadata. A V4 state cannot be cut to a shorter prefix, so a V4 entry is exactly
one boundary long: the prompt is prefilled to its last boundary, snapshotted, then finished, and
only that boundary's ref names the entry. Other cache types (transformers' own V4 layers) are
prefilled normally and not stored; `last` says so.
Does not know: chat templates, backends or what a library is (the caller passes token ids).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path

FORMAT = 1
V4_KIND = "v4"
SAMPLE = 256  # elements sampled per tensor for the model fingerprint


def model_identity(model) -> str:
    """A hex digest of the model's config, tensor names/shapes/dtypes and sampled weights."""
    import torch

    h = hashlib.sha256(f"longhand-prefix-cache-{FORMAT}|{type(model).__name__}".encode())
    config = getattr(model, "config", None)
    if config is not None:
        h.update(config.to_json_string(use_diff=False).encode())
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        h.update(f"|{name}|{tuple(tensor.shape)}|{tensor.dtype}".encode())
        if tensor.is_meta or tensor.numel() == 0:
            continue
        flat = tensor.detach().reshape(-1)
        sample = flat[:: max(1, flat.numel() // SAMPLE)][:SAMPLE].to("cpu").contiguous()
        if sample.dtype == torch.bool:
            sample = sample.to(torch.uint8)
        h.update(sample.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _chain(root: str, ids: list[int], block: int, upto: int) -> list[tuple[int, str]]:
    """[(boundary, hash)] for boundaries block, 2*block, ... <= upto."""
    import numpy as np

    out, h = [], root
    for b in range(block, upto + 1, block):
        chunk = np.asarray(ids[b - block:b], dtype=np.int64).tobytes()
        h = hashlib.sha256(h.encode() + chunk).hexdigest()
        out.append((b, h))
    return out


def _is_fast_v4(model) -> bool:
    return type(getattr(model, "model", None)).__name__ == "FastV4Model"


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class PrefixCache:
    """Prefix KV on disk under `root/<model identity>/` (entries/ and refs/)."""

    def __init__(self, root: str | Path, block: int = 256, max_bytes: int = 8 << 30):
        self.root = Path(root)
        self.block = block
        self.max_bytes = max_bytes
        self.last: dict = {}
        self._lock = threading.Lock()

    def _dir(self, identity: str) -> Path:
        return self.root / identity[:32]

    def lookup(self, model, ids: list[int], identity: str | None = None):
        """(DynamicCache holding the longest stored prefix of ids[:-1], its length) or (None, 0).

        `identity`: `model_identity(model)` when the caller has it (it is recomputed per call,
        so a model changed in place, e.g. an adapter attached, is never confused with its base)."""
        from safetensors import safe_open
        from safetensors.torch import load_file
        from transformers.cache_utils import DynamicCache

        identity = identity or model_identity(model)
        folder = self._dir(identity)
        refs = folder / "refs"
        if not refs.is_dir():
            return None, 0
        for b, h in reversed(_chain(identity, ids, self.block, len(ids) - 1)):
            ref = refs / h
            if not ref.is_file():
                continue
            entry = folder / "entries" / f"{ref.read_text().strip()}.safetensors"
            if not entry.is_file():  # evicted: the ref is stale
                ref.unlink(missing_ok=True)
                continue
            with safe_open(entry, "pt") as f:
                meta = f.metadata() or {}
            if meta.get("kind") == V4_KIND:
                if int(meta["tokens"]) != b or not _is_fast_v4(model):
                    continue  # a V4 state is only valid at its own length
                from engine.v4_cache import V4Cache

                tensors = load_file(entry, device=str(model.device))
                os.utime(entry)
                return V4Cache.from_state(model.config, tensors, json.loads(meta["v4"])), b
            tensors = load_file(entry, device=str(model.device))
            os.utime(entry)  # recently used: evicted last
            cache = DynamicCache(config=model.config)
            for i in range(len(tensors) // 2):
                keys, values = tensors[f"k{i}"], tensors[f"v{i}"]  # (1, H, T, D)
                cache.update(keys[:, :, :b].contiguous(), values[:, :, :b].contiguous(), i)
            del tensors
            if cache.get_seq_length() != b:
                raise RuntimeError(f"prefix cache entry {entry.name} is shorter than its refs")
            return cache, b
        return None, 0

    def store(self, model, ids: list[int], cache, identity: str | None = None) -> int:
        """Save the KV of ids up to the last block boundary before the final token; returns it.

        A `V4Cache` must hold exactly that many tokens (`prefill` stops there to store it)."""
        from safetensors.torch import save_file
        from transformers.cache_utils import DynamicCache, DynamicLayer

        from engine.v4_cache import V4Cache

        v4 = isinstance(cache, V4Cache)
        if not v4 and (type(cache) is not DynamicCache or any(
                type(layer) is not DynamicLayer for layer in cache.layers)):
            raise TypeError(f"only full-attention DynamicCache can be stored, not "
                            f"{type(cache).__name__}")
        identity = identity or model_identity(model)
        chain = _chain(identity, ids, self.block, len(ids) - 1)
        if not chain:
            return 0
        b, last = chain[-1]
        folder = self._dir(identity)
        (folder / "entries").mkdir(parents=True, exist_ok=True)
        (folder / "refs").mkdir(exist_ok=True)
        metadata = {"tokens": str(b), "format": str(FORMAT)}
        if v4:
            if cache.get_seq_length() != b:
                raise ValueError(f"a V4 cache holding {cache.get_seq_length()} tokens cannot be "
                                 f"stored at boundary {b}")
            tensors, meta = cache.state_dict()
            metadata.update(kind=V4_KIND, v4=json.dumps(meta))
            chain = chain[-1:]  # the state is not cut to shorter prefixes
        else:
            tensors = {}
            for i, layer in enumerate(cache.layers):
                tensors[f"k{i}"] = layer.keys[:, :, :b].contiguous()
                tensors[f"v{i}"] = layer.values[:, :, :b].contiguous()
        entry = folder / "entries" / f"{last}.safetensors"
        tmp = entry.with_name(f".{entry.name}.tmp")
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, entry)
        for _, h in chain:
            _write_atomic(folder / "refs" / h, last.encode())
        (folder / "model.json").write_text(json.dumps({
            "identity": identity, "block": self.block,
            "model_type": getattr(getattr(model, "config", None), "model_type", None)}))
        self._evict()
        return b

    def _evict(self) -> None:
        entries = sorted(self.root.glob("*/entries/*.safetensors"),
                         key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in entries)
        while entries and total > self.max_bytes:
            oldest = entries.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)

    def prefill(self, model, prompt_ids: list[int], cancel=None):
        """The generation hook: (cache, last-position logits or None when cancelled).

        Restores the longest stored prefix, prefills the rest, stores the new prefix."""
        import torch
        from transformers.cache_utils import DynamicCache

        from engine.generation import prefill

        with self._lock:
            started = time.perf_counter()
            identity = model_identity(model)
            cache, hit = self.lookup(model, prompt_ids, identity)
            loaded = time.perf_counter()
            v4 = _is_fast_v4(model)
            if cache is None and v4:
                from engine.v4_cache import V4Cache

                cache = V4Cache(model.config)
            elif cache is None:
                cache = DynamicCache(config=model.config)
            boundary = (len(prompt_ids) - 1) // self.block * self.block
            store_now = boundary >= hit + self.block
            stored, note, store_s = 0, None, 0.0
            # V4: prefill to the boundary, store that exact state, then the rest
            pieces = [hit, boundary, len(prompt_ids)] if v4 and store_now else \
                [hit, len(prompt_ids)]
            logits = None
            for a, b in zip(pieces, pieces[1:]):
                ids = torch.tensor([prompt_ids[a:b]], dtype=torch.long, device=model.device)
                logits = prefill(model, ids, cache, cancel)  # (1, b - a) through the model
                if logits is None:
                    break
                if store_now and b == (boundary if v4 else pieces[-1]):
                    before = time.perf_counter()
                    try:
                        stored = self.store(model, prompt_ids, cache, identity)
                    except TypeError as exc:
                        note = str(exc)
                    store_s = time.perf_counter() - before
            self.last = {"prompt_tokens": len(prompt_ids), "cached_tokens": hit,
                         "prefilled_tokens": len(prompt_ids) - hit, "stored_tokens": stored,
                         "load_s": round(loaded - started, 4),
                         "prefill_s": round(time.perf_counter() - loaded - store_s, 4),
                         "store_s": round(store_s, 4), "note": note}
            return cache, logits
