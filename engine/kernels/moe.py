"""Routed experts of a DeepSeek-V4 MoE layer: clamped SwiGLU experts weighted by the router.

Owns the expert computation given routing (`top_k_index`, `top_k_weights`), for sqrtsoftplus
top-k and hash-routed layers alike (routing is the router's business; duplicates in a row are
allowed and add up, as in transformers' eager loop). Weights keep transformers' layout:
`gate_up` (E, 2I, H) and `down` (E, H, I), so no copy of the expert tensors is ever made.

`reference` is transformers' eager loop (one_hot, nonzero, a Python loop over experts);
`torch_grouped` (CPU fast path) sorts the (token, slot) pairs by expert once and runs two
`grouped_mm` calls over all experts with offsets, then scatters rows back and sums the k
slots of each token: no per-expert loop, no host sync, no serial index_add.
The Triton path lives in `moe_triton.py`. Does not know routers or modules.
"""

import torch
import torch.nn.functional as F


def swiglu(gate_up: torch.Tensor, limit: float) -> torch.Tensor:
    """Clamped SwiGLU on a packed (.., 2I) projection: silu(min(g, l)) * clamp(u, -l, l)."""
    gate, up = gate_up.chunk(2, dim=-1)
    return F.silu(gate.clamp(max=limit)) * up.clamp(min=-limit, max=limit)


def reference(x, top_k_index, top_k_weights, gate_up, down, limit):
    """x (N, H), top_k_index/top_k_weights (N, k) -> (N, H); the eager per-expert loop."""
    out = torch.zeros_like(x)
    n_experts = gate_up.shape[0]
    mask = F.one_hot(top_k_index, num_classes=n_experts).permute(2, 1, 0)  # (E, k, N)
    for expert in mask.sum(dim=(-1, -2)).nonzero().flatten().tolist():
        slot, token = torch.where(mask[expert])
        h = swiglu(F.linear(x[token], gate_up[expert]), limit)
        y = F.linear(h, down[expert]) * top_k_weights[token, slot, None]
        out.index_add_(0, token, y.to(out.dtype))
    return out


def expert_offsets(flat_ids: torch.Tensor, n_experts: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stable order of (token, slot) pairs by expert and int32 end offsets per expert."""
    order = torch.argsort(flat_ids, stable=True)
    counts = torch.bincount(flat_ids, minlength=n_experts)
    return order, counts.cumsum(0).to(torch.int32)


def torch_grouped(x, top_k_index, top_k_weights, gate_up, down, limit):
    """CPU fast path: sort pairs by expert, two grouped GEMMs, weighted scatter-add back."""
    n_tokens, k = top_k_index.shape
    if n_tokens == 0:
        return torch.zeros_like(x)
    order, offs = expert_offsets(top_k_index.reshape(-1), gate_up.shape[0])
    token = order // k
    xs = x[token]  # (N*k, H), grouped by expert
    h = F.grouped_mm(xs, gate_up.transpose(1, 2), offs=offs)  # (N*k, 2I)
    inter = h.shape[-1] // 2
    act = F.silu(h[:, :inter].clamp(max=limit))  # contiguous (N*k, I)
    act.mul_(h[:, inter:].clamp(min=-limit, max=limit))
    y = F.grouped_mm(act, down.transpose(1, 2), offs=offs)  # (N*k, H)
    y.mul_(top_k_weights.reshape(-1)[order].unsqueeze(-1).to(y.dtype))
    unsorted = torch.empty_like(y)
    unsorted[order] = y  # back to (token, slot) order: a row scatter, then a k-way sum
    return unsorted.view(n_tokens, k, -1).sum(dim=1).to(x.dtype)
