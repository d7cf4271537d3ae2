"""The one place that picks a kernel implementation for a tensor's device.

CPU tensors run the optimized torch paths; CUDA tensors run Triton when it imports, else the same
torch paths (correct, slower). Callers may force a backend ("reference", "torch", "triton") for
tests and benchmarks. Triton modules are imported lazily, only when chosen, so importing the
engine never needs Triton. Does not know models, caches or configs.
"""

from functools import cache

import torch

from engine.kernels import indexer as indexer_op
from engine.kernels import moe as moe_op
from engine.kernels import sparse_attention as attention_op

BACKENDS = ("reference", "torch", "triton")


@cache
def triton_available() -> bool:
    """True when Triton imports (the CUDA path, or its interpreter in tests)."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def backend_for(device: torch.device, backend: str | None = None) -> str:
    """The backend name for `device`, or `backend` when the caller forces one."""
    if backend is not None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown kernel backend {backend!r}; choose one of {BACKENDS}")
        return backend
    if torch.device(device).type == "cuda" and triton_available():
        return "triton"
    return "torch"


def sparse_attention(q, kv, sinks, scale, window, q_start, kv_start, comp=None, comp_idx=None,
                     comp_ratio=None, backend=None):
    """See engine/kernels/sparse_attention.py for the semantics; (S, H, D) -> (S, H, D)."""
    name = backend_for(q.device, backend)
    args = (q, kv, sinks, scale, window, q_start, kv_start)
    extra = {"comp": comp, "comp_idx": comp_idx, "comp_ratio": comp_ratio}
    if name == "triton":
        from engine.kernels import sparse_attention_triton

        return sparse_attention_triton.sparse_attention(*args, **extra)
    fn = attention_op.reference if name == "reference" else attention_op.torch_chunked
    return fn(*args, **extra)


def indexer_topk(q, weights, keys, q_start, ratio, topk, softmax_scale, backend=None):
    """See engine/kernels/indexer.py; -> (S, min(topk, T)) long with -1 for invalid picks."""
    name = backend_for(q.device, backend)
    args = (q, weights, keys, q_start, ratio, topk, softmax_scale)
    if name == "triton":
        from engine.kernels import indexer_triton

        return indexer_triton.indexer_topk(*args)
    fn = indexer_op.reference if name == "reference" else indexer_op.torch_chunked
    return fn(*args)


def moe_experts(x, top_k_index, top_k_weights, gate_up, down, limit, backend=None):
    """See engine/kernels/moe.py; x (N, H) -> (N, H)."""
    name = backend_for(x.device, backend)
    args = (x, top_k_index, top_k_weights, gate_up, down, limit)
    if name == "triton":
        from engine.kernels import moe_triton

        return moe_triton.moe_experts(*args)
    fn = moe_op.reference if name == "reference" else moe_op.torch_grouped
    return fn(*args)
