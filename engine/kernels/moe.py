"""Routed experts of a DeepSeek-V4 MoE layer: clamped SwiGLU experts weighted by the router.

Owns the expert computation given routing (`top_k_index`, `top_k_weights`), for sqrtsoftplus
top-k and hash-routed layers alike (routing is the router's business; duplicates in a row are
allowed and add up, as in transformers' eager loop). Weights keep transformers' layout:
`gate_up` (E, 2I, H) and `down` (E, H, I), so no copy of the expert tensors is ever made.

`reference` is transformers' eager loop (one_hot, nonzero, a Python loop over experts);
`torch_grouped` (CPU fast path) sorts the (token, slot) pairs by expert once and runs two
`grouped_mm` calls over all experts with offsets, then gathers rows back and sums the k
slots of each token: no per-expert loop, no host sync, no serial index_add.
The Triton path lives in `moe_triton.py`. Does not know routers or modules.
"""

import torch
import torch.nn.functional as F

TOKEN_BLOCK = 512  # tokens per block: intermediates stay cache-sized (measured fastest)


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


def torch_grouped(x, top_k_index, top_k_weights, gate_up, down, limit, block=TOKEN_BLOCK):
    """CPU fast path: sort pairs by expert, two grouped GEMMs, weighted gather back.

    Tokens go in blocks of `block` so every intermediate stays small enough for the allocator to
    reuse its memory (no fresh pages per layer); rows are independent, so blocks change nothing.
    """
    n_tokens, k = top_k_index.shape
    out = torch.empty_like(x)
    block = max(block, 32 * gate_up.shape[0] // max(k, 1))  # >= 32 rows per expert on average
    for a in range(0, n_tokens, block):
        b = min(n_tokens, a + block)
        out[a:b] = _grouped_block(x[a:b], top_k_index[a:b], top_k_weights[a:b], gate_up, down,
                                  limit)
    return out


def _grouped_block(x, top_k_index, top_k_weights, gate_up, down, limit):
    n_tokens, k = top_k_index.shape
    order, offs = expert_offsets(top_k_index.reshape(-1), gate_up.shape[0])
    token = order // k
    xs = x.index_select(0, token)  # (N*k, H), grouped by expert
    h = F.grouped_mm(xs, gate_up.transpose(1, 2), offs=offs)  # (N*k, 2I)
    inter = h.shape[-1] // 2
    act = torch.clamp(h[:, :inter], max=limit)  # contiguous (N*k, I); swiglu's ops, in place
    F.silu(act, inplace=True)
    act.mul_(h[:, inter:].clamp_(min=-limit, max=limit))
    y = F.grouped_mm(act, down.transpose(1, 2), offs=offs)  # (N*k, H)
    y.mul_(top_k_weights.reshape(-1)[order].unsqueeze(-1).to(y.dtype))
    back = torch.empty_like(order)
    back[order] = torch.arange(order.shape[0], device=order.device)
    return y.index_select(0, back).view(n_tokens, k, -1).sum(dim=1).to(x.dtype)
