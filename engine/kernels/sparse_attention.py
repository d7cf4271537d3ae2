"""Sink attention for DeepSeek-V4: one shared K=V head, a sliding window, compressed entries.

Owns the op behind all three V4 layer types (ENGINE_ANCHORS.md §1.2, §9.1-9.3):
- sliding-window layers: the window only;
- CSA: the window plus the compressed entries the lightning indexer picked (`comp_idx`, -1 invalid);
- HCA: the window plus every compressed entry that is causally complete (`comp_ratio`).
Each query head has a learnable sink logit that joins the softmax denominator and carries no value.

Positions are contiguous (batch 1, no padding): query `i` sits at `q_start + i`, window row `j` at
`kv_start + j`. Key `j` is visible to query `i` when `pos_i - window < pos_j <= pos_i`; HCA
entry `w` is visible when `w < (pos_i + 1) // comp_ratio` (transformers' `block_bias`).

`reference` is the plain dense formulation (readable, O(S x N)); `torch_chunked` is the CPU fast
path: queries in blocks, each block touching only its window slice and its gathered entries, with
the two key sets merged in one sink-aware softmax. Nothing of size S x S or S x T is ever built.
The Triton path lives in `sparse_attention_triton.py`. Does not know caches or modules.
"""

import torch

QUERY_BLOCK = 256


def _comp_visibility(q_pos: torch.Tensor, n_comp: int, comp_ratio: int) -> torch.Tensor:
    entries = torch.arange(n_comp, device=q_pos.device)
    return entries[None, :] < ((q_pos + 1) // comp_ratio)[:, None]  # (S, T)


def reference(q, kv, sinks, scale, window, q_start, kv_start, comp=None, comp_idx=None,
              comp_ratio=None):
    """Dense masked attention with sinks; q (S, H, D), kv (N, D) -> (S, H, D)."""
    seq, heads, dim = q.shape
    q_pos = q_start + torch.arange(seq, device=q.device)
    k_pos = kv_start + torch.arange(kv.shape[0], device=q.device)
    logits = torch.einsum("shd,nd->shn", q.float(), kv.float()) * scale
    visible = (k_pos[None, :] <= q_pos[:, None]) & (k_pos[None, :] > q_pos[:, None] - window)
    logits = logits.masked_fill(~visible[:, None, :], float("-inf"))
    values = [kv.float().expand(seq, -1, -1)]
    parts = [logits]
    if comp is not None and comp.shape[0] == 0:
        comp = None
    if comp is not None and comp_idx is not None:
        gathered = comp.float()[comp_idx.clamp(min=0)]  # (S, K, D)
        comp_logits = torch.einsum("shd,skd->shk", q.float(), gathered) * scale
        parts.append(comp_logits.masked_fill((comp_idx < 0)[:, None, :], float("-inf")))
        values.append(gathered)
    elif comp is not None and comp_ratio is not None:
        comp_logits = torch.einsum("shd,td->sht", q.float(), comp.float()) * scale
        visible_c = _comp_visibility(q_pos, comp.shape[0], comp_ratio)
        parts.append(comp_logits.masked_fill(~visible_c[:, None, :], float("-inf")))
        values.append(comp.float().expand(seq, -1, -1))
    sink_col = sinks.float().view(1, heads, 1).expand(seq, heads, 1)
    probs = torch.cat(parts + [sink_col], dim=-1).softmax(dim=-1)[..., :-1]
    out = torch.einsum("shn,snd->shd", probs, torch.cat(values, dim=1))
    return out.to(q.dtype)


def torch_chunked(q, kv, sinks, scale, window, q_start, kv_start, comp=None, comp_idx=None,
                  comp_ratio=None, block=QUERY_BLOCK):
    """CPU fast path: per query block, window slice + gathered/causal entries, one softmax."""
    seq, heads, dim = q.shape
    out = torch.empty_like(q)
    sink = sinks.float().view(1, heads)
    has_comp = comp is not None and comp.shape[0] > 0
    for a in range(0, seq, block):
        b = min(seq, a + block)
        qc = q[a:b]  # (C, H, D)
        c = b - a
        first, last = q_start + a, q_start + b - 1
        lo = max(0, first - window + 1 - kv_start)
        hi = min(kv.shape[0], last + 1 - kv_start)
        kv_c = kv[lo:hi]  # (L, D)
        q_pos = torch.arange(first, last + 1, device=q.device)
        k_pos = torch.arange(kv_start + lo, kv_start + hi, device=q.device)
        lw = (qc.reshape(c * heads, dim) @ kv_c.T).view(c, heads, -1) * scale  # (C, H, L)
        rel = q_pos[:, None] - k_pos[None, :]
        lw = lw.masked_fill(((rel < 0) | (rel >= window))[:, None, :], float("-inf"))
        m = torch.maximum(lw.amax(dim=-1), sink)  # (C, H)
        lc = gathered = None
        if has_comp and comp_idx is not None and comp_idx.shape[1] > 0:
            idx = comp_idx[a:b]
            gathered = comp[idx.clamp(min=0)]  # (C, K, D)
            lc = torch.bmm(qc, gathered.transpose(1, 2)) * scale  # (C, H, K)
            lc = lc.masked_fill((idx < 0)[:, None, :], float("-inf"))
        elif has_comp and comp_ratio is not None:
            n_vis = min(comp.shape[0], (last + 1) // comp_ratio)
            if n_vis > 0:
                gathered = comp[:n_vis]  # (Tc, D)
                lc = (qc.reshape(c * heads, dim) @ gathered.T).view(c, heads, -1) * scale
                visible = _comp_visibility(q_pos, n_vis, comp_ratio)
                lc = lc.masked_fill(~visible[:, None, :], float("-inf"))
        if lc is not None:
            m = torch.maximum(m, lc.amax(dim=-1))
        pw = torch.exp(lw - m[..., None])
        denom = pw.sum(dim=-1) + torch.exp(sink - m)
        acc = (pw.to(kv_c.dtype).reshape(c * heads, -1) @ kv_c).view(c, heads, dim).float()
        if lc is not None:
            pc = torch.exp(lc - m[..., None])
            denom = denom + pc.sum(dim=-1)
            pc = pc.to(gathered.dtype)
            if gathered.dim() == 3:
                acc = acc + torch.bmm(pc, gathered)
            else:
                acc = acc + (pc.reshape(c * heads, -1) @ gathered).view(c, heads, dim)
        out[a:b] = (acc / denom[..., None]).to(q.dtype)
    return out
