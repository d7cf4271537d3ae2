"""Triton path of engine/kernels/sparse_attention.py (same arguments, same semantics).

One program per (query, block of heads): the sink initialises the running max and denominator,
then the window rows and the compressed entries (gathered by index for CSA, the causal prefix
for HCA) stream through in blocks of BLOCK_N keys with an online softmax. The single K=V head is
read once per block for every head of the program (plain MQA, no repeat_kv). The head dimension
is a padded power of two, so head_dim 512 works. Tested on CPU with TRITON_INTERPRET=1.
"""

import torch
import triton
import triton.language as tl

BLOCK_H = 16
BLOCK_N = 32


@triton.jit
def _block(q, acc, m_i, l_i, keys, valid, scale, PREC: tl.constexpr):
    s = tl.dot(q, tl.trans(keys), input_precision=PREC) * scale  # (BH, BN)
    s = tl.where(valid[None, :], s, float("-inf"))
    m_new = tl.maximum(m_i, tl.max(s, axis=1))
    alpha = tl.exp(m_i - m_new)
    p = tl.exp(s - m_new[:, None])
    l_i = l_i * alpha + tl.sum(p, axis=1)
    acc = acc * alpha[:, None] + tl.dot(p.to(keys.dtype), keys, input_precision=PREC)
    return acc, m_new, l_i


@triton.jit
def _sparse_attention_kernel(
    q_ptr, kv_ptr, comp_ptr, idx_ptr, sink_ptr, out_ptr,
    n_heads, head_dim, n_kv, n_comp, n_idx, window, q_start, kv_start, ratio, scale,
    MODE: tl.constexpr, PREC: tl.constexpr, BH: tl.constexpr, BN: tl.constexpr, BD: tl.constexpr,
):
    i = tl.program_id(0)
    hb = tl.program_id(1)
    heads = hb * BH + tl.arange(0, BH)
    dims = tl.arange(0, BD)
    h_ok = heads < n_heads
    d_ok = dims < head_dim
    q = tl.load(q_ptr + (i * n_heads + heads[:, None]) * head_dim + dims[None, :],
                mask=h_ok[:, None] & d_ok[None, :], other=0.0)
    m_i = tl.load(sink_ptr + heads, mask=h_ok, other=0.0).to(tl.float32)
    l_i = tl.full((BH,), 1.0, tl.float32)
    acc = tl.zeros((BH, BD), tl.float32)
    pos = q_start + i
    lo = tl.maximum(pos - window + 1 - kv_start, 0)
    hi = tl.minimum(pos + 1 - kv_start, n_kv)
    for start in range(lo, hi, BN):
        rows = start + tl.arange(0, BN)
        ok = rows < hi
        keys = tl.load(kv_ptr + rows[:, None] * head_dim + dims[None, :],
                       mask=ok[:, None] & d_ok[None, :], other=0.0)
        acc, m_i, l_i = _block(q, acc, m_i, l_i, keys, ok, scale, PREC)
    if MODE == 1:  # CSA: gathered top-k entries, -1 invalid
        for start in range(0, n_idx, BN):
            slots = start + tl.arange(0, BN)
            idx = tl.load(idx_ptr + i * n_idx + slots, mask=slots < n_idx, other=-1)
            ok = idx >= 0
            keys = tl.load(comp_ptr + idx[:, None] * head_dim + dims[None, :],
                           mask=ok[:, None] & d_ok[None, :], other=0.0)
            acc, m_i, l_i = _block(q, acc, m_i, l_i, keys, ok, scale, PREC)
    if MODE == 2:  # HCA: every causally complete entry
        n_vis = tl.minimum((pos + 1) // ratio, n_comp)
        for start in range(0, n_vis, BN):
            rows = start + tl.arange(0, BN)
            ok = rows < n_vis
            keys = tl.load(comp_ptr + rows[:, None] * head_dim + dims[None, :],
                           mask=ok[:, None] & d_ok[None, :], other=0.0)
            acc, m_i, l_i = _block(q, acc, m_i, l_i, keys, ok, scale, PREC)
    out = acc / l_i[:, None]
    tl.store(out_ptr + (i * n_heads + heads[:, None]) * head_dim + dims[None, :],
             out.to(out_ptr.dtype.element_ty), mask=h_ok[:, None] & d_ok[None, :])


def sparse_attention(q, kv, sinks, scale, window, q_start, kv_start, comp=None, comp_idx=None,
                     comp_ratio=None):
    seq, heads, dim = q.shape
    out = torch.empty_like(q)
    if seq == 0:
        return out
    q, kv = q.contiguous(), kv.contiguous()
    mode = 0
    if comp is not None and comp.shape[0] > 0:
        mode = 1 if comp_idx is not None else 2
    comp_t = comp.contiguous() if mode else kv
    idx = comp_idx.contiguous() if mode == 1 else torch.zeros(1, dtype=torch.long, device=q.device)
    n_idx = idx.shape[1] if mode == 1 else 0
    grid = (seq, triton.cdiv(heads, BLOCK_H))
    precision = "ieee" if q.dtype == torch.float32 else "tf32"  # fp32 stays exact on GPUs
    _sparse_attention_kernel[grid](
        q, kv, comp_t, idx, sinks.float().contiguous(), out,
        heads, dim, kv.shape[0], comp_t.shape[0] if mode else 0, n_idx, window, q_start,
        kv_start, comp_ratio or 1, scale,
        MODE=mode, PREC=precision, BH=BLOCK_H, BN=BLOCK_N, BD=max(16, triton.next_power_of_2(dim)),
    )
    return out
