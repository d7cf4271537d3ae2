"""Triton path of engine/kernels/moe.py (same arguments, same result).

(token, slot) pairs are sorted by expert and each expert's group is padded to BLOCK_M rows
(device-side cumsums, no host sync: the grid is sized for the worst case and surplus blocks
exit). Kernel 1 runs x @ gate_up[e].T for a row block and applies the clamped SwiGLU in
registers; kernel 2 runs act @ down[e].T, scales by the routing weight and writes each pair's row;
the k rows of a token are then summed. Expert weights are read in place, in transformers'
layout. Tested on CPU with TRITON_INTERPRET=1.
"""

import torch
import triton
import triton.language as tl

BLOCK_M = 16
BLOCK_N = 32
BLOCK_K = 32


@triton.jit
def _grouped_kernel(a_ptr, w_ptr, out_ptr, pair_ptr, block_expert_ptr, rw_ptr,
                    n_out, n_in, top_k, limit, n_act_blocks_ptr,
                    GATED: tl.constexpr, A_BY_TOKEN: tl.constexpr, PREC: tl.constexpr,
                    BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    pid_m = tl.program_id(0)
    if pid_m >= tl.load(n_act_blocks_ptr):
        return
    expert = tl.load(block_expert_ptr + pid_m)
    slots = pid_m * BM + tl.arange(0, BM)
    pair = tl.load(pair_ptr + slots)  # -1 for padding
    ok = pair >= 0
    if A_BY_TOKEN:
        a_row = tl.maximum(pair, 0) // top_k
    else:
        a_row = slots
    cols = tl.program_id(1) * BN + tl.arange(0, BN)
    c_ok = cols < n_out
    acc = tl.zeros((BM, BN), tl.float32)
    acc_up = tl.zeros((BM, BN), tl.float32)
    w_rows = 2 * n_out if GATED else n_out
    for k0 in range(0, n_in, BK):
        ks = k0 + tl.arange(0, BK)
        k_ok = ks < n_in
        a = tl.load(a_ptr + a_row[:, None] * n_in + ks[None, :], mask=ok[:, None] & k_ok[None, :],
                    other=0.0)
        w = tl.load(w_ptr + (expert * w_rows + cols[None, :]) * n_in + ks[:, None],
                    mask=c_ok[None, :] & k_ok[:, None], other=0.0)
        acc += tl.dot(a, w, input_precision=PREC)
        if GATED:
            w_up = tl.load(w_ptr + (expert * w_rows + n_out + cols[None, :]) * n_in + ks[:, None],
                           mask=c_ok[None, :] & k_ok[:, None], other=0.0)
            acc_up += tl.dot(a, w_up, input_precision=PREC)
    if GATED:
        gate = tl.minimum(acc, limit)
        up = tl.minimum(tl.maximum(acc_up, -limit), limit)
        acc = gate / (1.0 + tl.exp(-gate)) * up
        out_row = slots
    else:
        acc = acc * tl.load(rw_ptr + pair, mask=ok, other=0.0)[:, None]
        out_row = pair
    tl.store(out_ptr + out_row[:, None] * n_out + cols[None, :],
             acc.to(out_ptr.dtype.element_ty), mask=ok[:, None] & c_ok[None, :])


def _align(flat_ids, n_experts, block):
    """Pair ids sorted by expert, each group padded to `block` rows; block -> expert map."""
    n_pairs = flat_ids.numel()
    order = torch.argsort(flat_ids, stable=True)
    counts = torch.bincount(flat_ids, minlength=n_experts)
    padded = (counts + block - 1) // block * block
    starts = torch.cumsum(padded, 0) - padded  # padded start of each expert
    group_start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n_pairs, device=flat_ids.device) - group_start[flat_ids[order]]
    max_rows = n_pairs + n_experts * (block - 1)
    pair_at = torch.full((max_rows,), -1, dtype=torch.long, device=flat_ids.device)
    pair_at[starts[flat_ids[order]] + rank] = order
    ends = torch.cumsum(padded, 0)
    block_start = torch.arange(0, max_rows, block, device=flat_ids.device)
    block_expert = torch.searchsorted(ends, block_start, right=True).clamp(max=n_experts - 1)
    n_blocks = (ends[-1:] // block).to(torch.int32)
    return pair_at, block_expert, n_blocks, block_start.numel()


def moe_experts(x, top_k_index, top_k_weights, gate_up, down, limit):
    n_tokens, top_k = top_k_index.shape
    if n_tokens == 0:
        return torch.zeros_like(x)
    n_experts, two_inter, hidden = gate_up.shape
    inter = two_inter // 2
    pair_at, block_expert, n_blocks, grid_m = _align(top_k_index.reshape(-1), n_experts, BLOCK_M)
    prec = "ieee" if x.dtype == torch.float32 else "tf32"
    weights = top_k_weights.reshape(-1).float().contiguous()
    act = torch.empty(pair_at.numel(), inter, dtype=x.dtype, device=x.device)
    _grouped_kernel[(grid_m, triton.cdiv(inter, BLOCK_N))](
        x.contiguous(), gate_up.contiguous(), act, pair_at, block_expert, weights,
        inter, hidden, top_k, float(limit), n_blocks,
        GATED=True, A_BY_TOKEN=True, PREC=prec, BM=BLOCK_M, BN=BLOCK_N, BK=BLOCK_K)
    y = torch.zeros(n_tokens * top_k, hidden, dtype=torch.float32, device=x.device)
    _grouped_kernel[(grid_m, triton.cdiv(hidden, BLOCK_N))](
        act, down.contiguous(), y, pair_at, block_expert, weights,
        hidden, inter, top_k, float(limit), n_blocks,
        GATED=False, A_BY_TOKEN=False, PREC=prec, BM=BLOCK_M, BN=BLOCK_N, BK=BLOCK_K)
    return y.view(n_tokens, top_k, hidden).sum(dim=1).to(x.dtype)
