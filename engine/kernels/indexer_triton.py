"""Triton path of engine/kernels/indexer.py (same arguments, same picks).

A kernel scores a tile of BLOCK_M queries x BLOCK_N keys, summing w[t, h] * ReLU(q[t, h] . k) over
the indexer heads in registers, so no (S, heads, T) tensor exists; queries go in blocks of at most
`QUERY_BLOCK` rows, each block's (rows, T) scores then take torch's top-k (shared with the torch
path in `indexer._finish`). Tested on CPU with TRITON_INTERPRET=1.
"""

import torch
import triton
import triton.language as tl

from engine.kernels.indexer import QUERY_BLOCK, _finish

BLOCK_M = 16
BLOCK_N = 32


@triton.jit
def _scores_kernel(q_ptr, w_ptr, k_ptr, out_ptr, n_rows, n_keys, n_heads, head_dim, scale,
                   BM: tl.constexpr, BN: tl.constexpr, BD: tl.constexpr, PREC: tl.constexpr):
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    cols = tl.program_id(1) * BN + tl.arange(0, BN)
    dims = tl.arange(0, BD)
    r_ok, c_ok, d_ok = rows < n_rows, cols < n_keys, dims < head_dim
    keys = tl.load(k_ptr + cols[:, None] * head_dim + dims[None, :],
                   mask=c_ok[:, None] & d_ok[None, :], other=0.0).to(tl.float32)
    acc = tl.zeros((BM, BN), tl.float32)
    for h in range(0, n_heads):
        q = tl.load(q_ptr + (rows[:, None] * n_heads + h) * head_dim + dims[None, :],
                    mask=r_ok[:, None] & d_ok[None, :], other=0.0).to(tl.float32)
        w = tl.load(w_ptr + rows * n_heads + h, mask=r_ok, other=0.0).to(tl.float32)
        s = tl.maximum(tl.dot(q, tl.trans(keys), input_precision=PREC), 0.0) * scale
        acc += s * w[:, None]
    tl.store(out_ptr + rows[:, None] * n_keys + cols[None, :], acc,
             mask=r_ok[:, None] & c_ok[None, :])


def indexer_topk(q, weights, keys, q_start, ratio, topk, softmax_scale):
    seq, heads, dim = q.shape
    n_keys = keys.shape[0]
    k = min(topk, n_keys)
    out = torch.full((seq, k), -1, dtype=torch.long, device=q.device)
    if seq == 0 or k == 0:
        return out
    q, weights, keys = q.contiguous(), weights.float().contiguous(), keys.contiguous()
    for a in range(0, seq, QUERY_BLOCK):
        b = min(seq, a + QUERY_BLOCK)
        scores = torch.empty(b - a, n_keys, dtype=torch.float32, device=q.device)
        grid = (triton.cdiv(b - a, BLOCK_M), triton.cdiv(n_keys, BLOCK_N))
        _scores_kernel[grid](q[a:b], weights[a:b], keys, scores, b - a, n_keys, heads, dim,
                             softmax_scale, BM=BLOCK_M, BN=BLOCK_N,
                             BD=max(16, triton.next_power_of_2(dim)), PREC="ieee")
        out[a:b] = _finish(scores, q_start + torch.arange(a, b, device=q.device), ratio, topk)
    return out
