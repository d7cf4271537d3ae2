"""Lightning indexer top-k for DeepSeek-V4 CSA layers (paper §2.3.1 eqs. 13-17).

Owns: score(t, s) = sum_h w[t, h] * ReLU(q[t, h] . k[s]) * softmax_scale over the compressed indexer
keys, causality (entry `s` is visible to the query at position `p` when `s < (p + 1) // ratio`),
and the top-k with invalid picks replaced by -1, exactly as transformers' `DeepseekV4Indexer`.

`reference` materialises the whole (S, H, T) score tensor like transformers does; `torch_chunked`
(CPU fast path) scores a block of queries at a time so at most `budget` floats of scores exist,
whatever the context length (ENGINE_ANCHORS.md §3.3, §9.2). Each row is still scored against every
key, so the top-k (ties included) is the one torch.topk picks on the full row.
The Triton path lives in `indexer_triton.py`. Does not know caches or modules.
"""

import torch

SCORE_BUDGET = 1 << 22  # floats of (block, heads, T) scores held at once
QUERY_BLOCK = 256  # and never more than this many query rows


def _finish(scores, q_start, ratio, topk):
    """Causal mask (in place), top-k and -1 for picks past the causal threshold; scores (C, T)."""
    n_keys = scores.shape[-1]
    k = min(topk, n_keys)
    if n_keys == 0:
        return torch.empty(scores.shape[0], 0, dtype=torch.long, device=scores.device)
    q_pos = q_start + torch.arange(scores.shape[0], device=scores.device)
    threshold = ((q_pos + 1) // ratio)[:, None]  # (C, 1)
    entries = torch.arange(n_keys, device=scores.device)[None, :]
    scores = scores.masked_fill_(entries >= threshold, float("-inf"))
    picks = scores.topk(k, dim=-1).indices
    return torch.where(picks >= threshold, torch.full_like(picks, -1), picks)


def reference(q, weights, keys, q_start, ratio, topk, softmax_scale):
    """q (S, H, Di), weights (S, H), keys (T, Di) -> (S, min(topk, T)) long, -1 for invalid."""
    scores = torch.matmul(q.float().unsqueeze(0), keys.float().T.unsqueeze(0).unsqueeze(1))[0]
    scores = torch.relu(scores) * softmax_scale  # (S, H, T)
    scores = (scores * weights.float().unsqueeze(-1)).sum(dim=1)
    return _finish(scores, q_start, ratio, topk)


def torch_chunked(q, weights, keys, q_start, ratio, topk, softmax_scale, budget=SCORE_BUDGET):
    """CPU fast path: the same picks, holding at most `budget` floats of scores at a time."""
    seq, heads, dim = q.shape
    n_keys = keys.shape[0]
    k = min(topk, n_keys)
    out = torch.empty(seq, k, dtype=torch.long, device=q.device)
    if seq == 0 or k == 0:
        return out.fill_(-1) if seq else out
    keys_t = keys.float().T  # (Di, T)
    block = max(1, min(seq, QUERY_BLOCK, budget // max(1, heads * n_keys)))
    for a in range(0, seq, block):
        b = min(seq, a + block)
        c = b - a
        # Only entries below the block's last causal threshold can be picked; past it, -inf.
        n_vis = min(n_keys, (q_start + b) // ratio)
        s = torch.full((c, n_keys), float("-inf"), device=q.device)  # past every threshold
        if n_vis > 0:  # the reference's ops in its order (bitwise), in place
            raw = (q[a:b].float().reshape(c * heads, dim) @ keys_t[:, :n_vis]).view(c, heads, n_vis)
            raw.relu_().mul_(softmax_scale).mul_(weights[a:b].float().unsqueeze(-1))
            s[:, :n_vis] = raw.sum(dim=1)
        out[a:b] = _finish(s, q_start + a, ratio, topk)
    return out
