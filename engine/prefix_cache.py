"""A persistent, on-disk KV cache of prompt prefixes: the second question about a library skips
the library's prefill. On by default for every local backend (engine/backends/local.py).

Why: synthesis packs the stable library first and the question last (DESIGN.md section 3), so
follow-up questions share a long token prefix. Prefill of that prefix dominates time to first
token on a CPU (minutes at 8K tokens for the embedded default); reading its KV back from disk
takes well under a second.

Keys are exact. Prompts are cut in blocks of `block` tokens (16 by default) and each block
boundary gets a chained hash: h_0 = the model's identity, h_i = sha256(h_{i-1} + the ids of
block i). An entry holds the KV of one prompt's first `b` tokens (b the last boundary before its
final token); a small ref file per boundary hash names the entry, so a later prompt reuses the
longest boundary it shares with any stored prompt, and the entry's KV is cut to that boundary
(KV of a causal model's prefix does not depend on what follows). At most `block - 1` shared
tokens are prefilled again. A changed document changes every hash from its first changed block
on, and a changed model (config, weights, adapter, dtype) changes h_0, so stale KV is never
served.

The model's identity is a fingerprint: config, every parameter/buffer's name, shape and dtype,
and a strided sample of its bytes (cheap at load; a fine-tune or merged adapter changes it).

Across processes (two CLI runs, the app and a CLI at once): an entry is written to a private
temporary file and renamed into place, refs likewise, so a reader sees a whole file or none;
publishing and eviction (least recently used first past `max_bytes`, a read touches an entry's
mtime) run under one file lock (`filelock`, a maintained cross-platform lock) at the root. A
reader takes no lock: an entry evicted under it is a miss, never an error, and a failed store
(disk full, lock held too long) leaves a note in `last` and the answer unchanged. The decode
loop defers the store to the end of the answer (`defer=True`, then `flush`), so writing an
entry never delays the first token.

Caches: transformers `DynamicCache` with full-attention layers (any plain HF causal LM, and the
embedded default's generic path), stored losslessly as safetensors; engine/llama/fast.py's
preallocated `KVCache` (the embedded default's path) in the very same layout (`prefill_fast`), so
an entry written by one path is read by the other; and the fast DeepSeek-V4 path's `V4Cache`
(engine/deepseek_v4/model.py): its whole state (window rows, compressed entries, indexer keys,
pending tokens of unfinished compression windows, the CSA overlap half) as safetensors plus a JSON
meta in the file's metadata. A V4 state cannot be cut to a shorter prefix (its compressed entries
and window summarise every token seen), so a V4 entry is exactly one boundary long: the prompt is
prefilled to each snapshot boundary in turn, snapshotted there, then finished, and only that
boundary's ref names each entry. The snapshots sit at the last multiple of 16, of 256 and of
4096 tokens before the final token (V4_SNAPSHOT_STEPS; a V4 state is small, its KV compressed),
so a later prompt that extends the stored one hits at most 15 tokens short, and a second
question after the same library (it leaves the stored prompt t tokens before its end) hits the
256-boundary with a chance of 1 - t/256 and the 4096-boundary with 1 - t/4096, re-reading up to
255 or 4095 tokens. Exact reuse at the question's own start would need a snapshot where the new
prompt left the longest stored chain (a third job over the library then hits there), or at a
boundary the caller marks as the end of the stable part: one more state per prompt. Other
cache types (transformers' own V4 layers) are prefilled normally and not stored; `last` says so.
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
DEFAULT_BLOCK = 16
V4_SNAPSHOT_STEPS = (1, 16, 256)  # in blocks: V4 states at the last 16-, 256-, 4096-boundary
DEFAULT_MAX_BYTES = 8 << 30
LOCK_TIMEOUT_S = 120.0  # a store waits this long for another process's store or eviction
STALE_TMP_S = 3600.0  # temporary files older than this were left by a crashed writer


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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class PrefixCache:
    """Prefix KV on disk under `root/<model identity>/` (entries/ and refs/).

    One instance per backend: `last` describes that backend's latest prefill."""

    def __init__(self, root: str | Path, block: int = DEFAULT_BLOCK,
                 max_bytes: int = DEFAULT_MAX_BYTES):
        if block <= 0:
            raise ValueError(f"prefix cache block must be a positive number of tokens, "
                             f"not {block}")
        self.root = Path(root)
        self.block = block
        self.max_bytes = max_bytes
        self.last: dict = {}
        self._pending = None  # a deferred store, run by `flush`
        self._lock = threading.Lock()

    def _dir(self, identity: str) -> Path:
        return self.root / identity[:32]

    def _read(self, identity: str, ids: list[int], device, v4: bool):
        """(tensors, metadata, boundary) of the longest stored prefix of ids[:-1] usable here,
        or (None, None, 0). Entries that vanish or fail to read (evicted by another process,
        cut short by a crash) are misses."""
        from safetensors import SafetensorError, safe_open

        folder = self._dir(identity)
        if not (folder / "refs").is_dir():
            return None, None, 0
        for b, h in reversed(_chain(identity, ids, self.block, len(ids) - 1)):
            ref = folder / "refs" / h
            try:
                name = ref.read_text().strip()
            except OSError:
                continue
            entry = folder / "entries" / f"{name}.safetensors"
            try:
                with safe_open(entry, "pt", device=str(device)) as f:
                    meta = f.metadata() or {}
                    is_v4 = meta.get("kind") == V4_KIND
                    if is_v4 != v4 or int(meta.get("tokens", -1)) < b or \
                            (is_v4 and int(meta["tokens"]) != b):
                        continue  # another cache type, or a V4 state of another length
                    tensors = {key: f.get_tensor(key) for key in f.keys()}
                os.utime(entry)  # recently used: evicted last
            except FileNotFoundError:
                ref.unlink(missing_ok=True)  # evicted: the ref is stale
                continue
            except (OSError, SafetensorError, ValueError, KeyError):
                continue
            return tensors, meta, b
        return None, None, 0

    def lookup(self, model, ids: list[int], identity: str | None = None):
        """(DynamicCache or V4Cache holding the longest stored prefix of ids[:-1], its length)
        or (None, 0).

        `identity`: `model_identity(model)` when the caller has it (it is recomputed per call,
        so a model changed in place, e.g. an adapter attached, is never confused with its base)."""
        from transformers.cache_utils import DynamicCache

        identity = identity or model_identity(model)
        v4 = _is_fast_v4(model)
        tensors, meta, b = self._read(identity, ids, model.device, v4)
        if tensors is None:
            return None, 0
        if v4:
            from engine.deepseek_v4.cache import V4Cache

            return V4Cache.from_state(model.config, tensors, json.loads(meta["v4"])), b
        cache = DynamicCache(config=model.config)
        for i in range(len(tensors) // 2):
            keys, values = tensors[f"k{i}"], tensors[f"v{i}"]  # (1, H, T, D)
            cache.update(keys[:, :, :b].contiguous(), values[:, :, :b].contiguous(), i)
        return cache, b

    def store(self, model, ids: list[int], cache, identity: str | None = None) -> int:
        """Save the KV of ids up to the last block boundary before the final token; returns it.

        A `V4Cache` must hold exactly that many tokens (`prefill` stops there to store it)."""
        from transformers.cache_utils import DynamicCache, DynamicLayer

        from engine.deepseek_v4.cache import V4Cache

        v4 = isinstance(cache, V4Cache)
        if not v4 and (type(cache) is not DynamicCache or any(
                type(layer) is not DynamicLayer for layer in cache.layers)):
            raise TypeError(f"only full-attention DynamicCache can be stored, not "
                            f"{type(cache).__name__}")
        identity = identity or model_identity(model)
        b = (len(ids) - 1) // self.block * self.block
        if b <= 0:
            return 0
        extra = {}
        if v4:
            if cache.get_seq_length() != b:
                raise ValueError(f"a V4 cache holding {cache.get_seq_length()} tokens cannot be "
                                 f"stored at boundary {b}")
            tensors, meta = cache.state_dict()
            extra = {"kind": V4_KIND, "v4": json.dumps(meta)}
        else:
            tensors = {}
            for i, layer in enumerate(cache.layers):
                tensors[f"k{i}"] = layer.keys[:, :, :b].contiguous()
                tensors[f"v{i}"] = layer.values[:, :, :b].contiguous()
        return self._save(identity, ids, tensors, extra, _model_type(model))

    def _save(self, identity: str, ids: list[int], tensors: dict, extra: dict,
              model_type: str | None) -> int:
        """Write an entry privately, then publish it and its refs and evict, under the lock."""
        from filelock import FileLock
        from safetensors.torch import save_file

        chain = _chain(identity, ids, self.block, len(ids) - 1)
        if not chain:
            return 0
        b, last = chain[-1]
        if extra.get("kind") == V4_KIND:
            chain = chain[-1:]  # the state is not cut to shorter prefixes
        folder = self._dir(identity)
        (folder / "entries").mkdir(parents=True, exist_ok=True)
        (folder / "refs").mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{last}-", suffix=".tmp", dir=folder / "entries")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata={"tokens": str(b), "format": str(FORMAT), **extra})
            with FileLock(str(self.root / ".lock"), timeout=LOCK_TIMEOUT_S):
                os.replace(tmp, folder / "entries" / f"{last}.safetensors")
                for _, h in chain:
                    _write_atomic(folder / "refs" / h, last.encode())
                _write_atomic(folder / "model.json", json.dumps({
                    "identity": identity, "block": self.block,
                    "model_type": model_type}).encode())
                self._evict()
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return b

    def _evict(self) -> None:
        """Least recently used entries first until the total fits `max_bytes` (lock held)."""
        now, entries = time.time(), []
        for path in self.root.glob("*/entries/*"):
            try:
                stat = path.stat()
            except OSError:
                continue
            if path.name.endswith(".tmp"):
                if now - stat.st_mtime > STALE_TMP_S:
                    path.unlink(missing_ok=True)
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        entries.sort()
        total = sum(size for _, size, _ in entries)
        gone: dict[Path, set[str]] = {}
        while entries and total > self.max_bytes:
            _, size, oldest = entries.pop(0)
            total -= size
            oldest.unlink(missing_ok=True)
            gone.setdefault(oldest.parent.parent, set()).add(oldest.stem)
        for folder, names in gone.items():  # refs naming an evicted entry go with it
            for ref in (folder / "refs").iterdir():
                try:
                    if ref.read_text().strip() in names:
                        ref.unlink(missing_ok=True)
                except OSError:
                    continue

    def _store_safely(self, store) -> tuple[int, str | None, float]:
        """(stored tokens, note, seconds): a store that fails leaves the answer unchanged."""
        from filelock import Timeout

        before = time.perf_counter()
        try:
            stored, note = store(), None
        except TypeError as exc:
            stored, note = 0, str(exc)
        except (OSError, Timeout) as exc:
            stored, note = 0, f"prefix not stored: {exc}"
        return stored, note, time.perf_counter() - before

    def _report(self, prompt: int, hit: int, stored: int, started: float, loaded: float,
                store_s: float, note: str | None) -> None:
        self.last = {"prompt_tokens": prompt, "cached_tokens": hit,
                     "prefilled_tokens": prompt - hit, "stored_tokens": stored,
                     "load_s": round(loaded - started, 4),
                     "prefill_s": round(time.perf_counter() - loaded - store_s, 4),
                     "store_s": round(store_s, 4), "note": note}

    def flush(self) -> None:
        """Run the store a `defer=True` prefill left (its cache must still hold the prompt's
        KV; decoded tokens after it do not matter); `last` then says what was stored."""
        with self._lock:
            pending, self._pending = self._pending, None
            if pending is not None:
                stored, note, store_s = self._store_safely(pending)
                self.last.update(stored_tokens=stored, note=note, store_s=round(store_s, 4))

    def prefill(self, model, prompt_ids: list[int], cancel=None, defer: bool = False):
        """The generation hook for transformers' forward: (cache, last-position logits or None
        when cancelled). Restores the longest stored prefix, prefills the rest, stores the new
        prefix: now, or with `defer` at `flush` (after the answer, so writing the entry does
        not delay the first token; a V4 state is always written at its boundary)."""
        from engine.events import run_to_end

        return run_to_end(self.prefill_steps(model, prompt_ids, cancel, defer))

    def prefill_steps(self, model, prompt_ids: list[int], cancel=None, defer: bool = False):
        """`prefill`, yielding the prompt tokens read so far: first the restored prefix, then
        after each chunk. Holds the lock while suspended (the backend runs one at a time)."""
        import torch
        from transformers.cache_utils import DynamicCache

        from engine.generation import prefill_steps

        with self._lock:
            started = time.perf_counter()
            identity = model_identity(model)
            cache, hit = self.lookup(model, prompt_ids, identity)
            loaded = time.perf_counter()
            v4 = _is_fast_v4(model)
            if cache is None and v4:
                from engine.deepseek_v4.cache import V4Cache

                cache = V4Cache(model.config)
            elif cache is None:
                cache = DynamicCache(config=model.config)
            last = (len(prompt_ids) - 1) // self.block * self.block
            # V4: prefill to each snapshot boundary, store that exact state, then the rest
            marks = self._v4_marks(len(prompt_ids), hit) if v4 else \
                [last] if last >= hit + self.block else []
            pieces = [hit, *marks, len(prompt_ids)] if v4 else [hit, len(prompt_ids)]
            stored, note, store_s, logits = 0, None, 0.0, None
            yield hit
            for a, b in zip(pieces, pieces[1:]):
                ids = torch.tensor([prompt_ids[a:b]], dtype=torch.long, device=model.device)
                steps = prefill_steps(model, ids, cache, cancel)  # (1, b - a) through the model
                while True:
                    try:
                        yield a + next(steps)
                    except StopIteration as stop:
                        logits = stop.value
                        break
                if logits is None:
                    break
                mark = b if v4 else last
                if mark in marks and (v4 or b == pieces[-1]):
                    def store(upto=mark + 1) -> int:  # ids[:b + 1]: its last boundary is b
                        return self.store(model, prompt_ids[:upto], cache, identity)
                    if defer and not v4:
                        self._pending = store
                    else:
                        done, problem, seconds = self._store_safely(store)
                        stored, note, store_s = max(stored, done), note or problem, \
                            store_s + seconds
            self._report(len(prompt_ids), hit, stored, started, loaded, store_s, note)
            return cache, logits

    def _v4_marks(self, length: int, hit: int) -> list[int]:
        """Boundaries a V4 prefill snapshots at: the last multiple of each V4_SNAPSHOT_STEPS
        block count before the final token, past what was restored."""
        steps = [self.block * m for m in V4_SNAPSHOT_STEPS]
        marks = {(length - 1) // step * step for step in steps}
        return sorted(m for m in marks if m >= hit + self.block)

    def prefill_fast(self, fast, kv, prompt_ids: list[int], chunk: int, cancel=None,
                     defer: bool = False):
        """The hook for engine/llama/fast.py: fill `kv` (a fresh KVCache) with the longest
        stored prefix, prefill the rest on the fast forward, store the new prefix (now, or at
        `flush` with `defer`); returns the last-position logits or None when cancelled. Same
        entries as `prefill`'s."""
        from engine.events import run_to_end

        return run_to_end(self.prefill_fast_steps(fast, kv, prompt_ids, chunk, cancel, defer))

    def prefill_fast_steps(self, fast, kv, prompt_ids: list[int], chunk: int, cancel=None,
                           defer: bool = False):
        """`prefill_fast`, yielding the prompt tokens read so far (first the restored
        prefix, then after each chunk)."""
        import torch

        with self._lock:
            started = time.perf_counter()
            model = fast.model_ref()
            identity = model_identity(model)
            tensors, _, hit = self._read(identity, prompt_ids, "cpu", v4=False)
            if tensors is not None:
                for i in range(kv.k.shape[0]):
                    kv.k[i, :, :hit].copy_(tensors[f"k{i}"][0, :, :hit])  # (KV, T, D)
                    kv.v[i, :, :hit].copy_(tensors[f"v{i}"][0, :, :hit])
                del tensors
            kv.length = hit
            loaded = time.perf_counter()
            ids = torch.tensor(prompt_ids[hit:], dtype=torch.long)  # (P - hit,)
            yield hit
            logits = yield from fast.prefill_steps(ids, kv, chunk, cancel)
            boundary = (len(prompt_ids) - 1) // self.block * self.block
            stored, note, store_s = 0, None, 0.0
            if logits is not None and boundary >= hit + self.block:
                def store() -> int:
                    kept = {}
                    for i in range(kv.k.shape[0]):
                        kept[f"k{i}"] = kv.k[i, None, :, :boundary].contiguous()  # (1, KV, T, D)
                        kept[f"v{i}"] = kv.v[i, None, :, :boundary].contiguous()
                    return self._save(identity, prompt_ids, kept, {}, _model_type(model))
                if defer:
                    self._pending = store
                else:
                    stored, note, store_s = self._store_safely(store)
            self._report(len(prompt_ids), hit, stored, started, loaded, store_s, note)
            return logits


def _model_type(model) -> str | None:
    return getattr(getattr(model, "config", None), "model_type", None)
