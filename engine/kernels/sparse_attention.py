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
path: queries in blocks; each query's window is a strided (S, window, D) view of the K=V rows (no
copy, exactly `window` keys per query, one batched matmul), CSA entries are gathered into a reused
buffer, HCA takes the causal prefix, and window, entries and sink meet in one softmax.
Nothing of size S x S or S x T is ever built.
The Triton path lives in `sparse_attention_triton.py`. Does not know caches or modules.
"""

import torch

QUERY_BLOCK = 1024  # query rows per block, at most
SCORE_BUDGET = 1 << 23  # floats of logits (or gathered entries) per block, at most


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


def _window_view(kv, window, q_start, kv_start, seq):
    """(seq, window, D) strided view: query i's window rows, zero-padded before position 0.

    Returns the view and `pad`, the number of zero rows in front (queries i < pad see pad - i of
    them, which the caller masks). No copy of the window per query: rows overlap in memory.
    """
    dim = kv.shape[1]
    lead = q_start - kv_start  # rows stored before the first query
    pad = window - 1 - lead
    rows = kv[max(0, -pad) : lead + seq]
    if pad > 0:
        rows = torch.cat([rows.new_zeros(pad, dim), rows])
    rows = rows.contiguous()
    view = rows.as_strided((seq, window, dim), (dim, dim, 1), rows.storage_offset())
    return view, max(pad, 0)


def torch_chunked(q, kv, sinks, scale, window, q_start, kv_start, comp=None, comp_idx=None,
                  comp_ratio=None, block=QUERY_BLOCK, budget=SCORE_BUDGET):
    """CPU fast path: per query block, window view + gathered/causal entries, one softmax."""
    seq, heads, dim = q.shape
    out = torch.empty_like(q)
    if seq == 0:
        return out
    wins, pad = _window_view(kv, window, q_start, kv_start, seq)
    sink = sinks.float().view(1, heads, 1)
    has_comp = comp is not None and comp.shape[0] > 0
    csa = has_comp and comp_idx is not None and comp_idx.shape[1] > 0
    hca = has_comp and not csa and comp_ratio is not None
    n_extra = comp_idx.shape[1] if csa else (comp.shape[0] if hca else 0)
    per_query = max(heads * (window + n_extra + 1), (n_extra * dim) if csa else 0)
    block = max(1, min(block, seq, budget // per_query))
    gathered_buf = comp.new_empty(block * n_extra, dim) if csa else None
    rel = torch.arange(window, device=q.device)
    for a in range(0, seq, block):
        b = min(seq, a + block)
        c = b - a
        qc = q[a:b]
        parts = [torch.bmm(qc, wins[a:b].transpose(1, 2)).float()]  # (C, H, W)
        gathered = None
        if csa:
            idx = comp_idx[a:b]
            gathered = gathered_buf[: c * n_extra]
            torch.index_select(comp, 0, idx.clamp(min=0).reshape(-1), out=gathered)
            gathered = gathered.view(c, n_extra, dim)
            lc = torch.bmm(qc, gathered.transpose(1, 2)).float()  # (C, H, K)
            parts.append(lc.masked_fill_((idx < 0)[:, None, :], float("-inf")))
        elif hca:
            n_vis = min(comp.shape[0], (q_start + b) // comp_ratio)
            if n_vis > 0:
                gathered = comp[:n_vis]
                lc = (qc.reshape(c * heads, dim) @ gathered.T).view(c, heads, n_vis).float()
                q_pos = torch.arange(q_start + a, q_start + b, device=q.device)
                hidden = ~_comp_visibility(q_pos, n_vis, comp_ratio)
                parts.append(lc.masked_fill_(hidden[:, None, :], float("-inf")))
        n_keys = sum(p.shape[-1] for p in parts)
        logits = torch.cat(parts + [sink.expand(c, heads, 1)], dim=-1)
        logits[..., :n_keys].mul_(scale)
        if a < pad:  # zero rows in front of position 0
            lim = torch.arange(pad - a, pad - b, -1, device=q.device)  # pad - i for i in [a, b)
            logits[..., :window].masked_fill_((rel[None, :] < lim[:, None])[:, None, :],
                                              float("-inf"))
        probs = logits.softmax(dim=-1).to(q.dtype)
        acc = torch.bmm(probs[..., :window], wins[a:b])
        if gathered is not None:
            pc = probs[..., window:n_keys]
            if gathered.dim() == 3:
                acc.baddbmm_(pc, gathered)
            else:
                acc.view(c * heads, dim).addmm_(pc.reshape(c * heads, -1), gathered)
        out[a:b] = acc
    return out
