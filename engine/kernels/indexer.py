"""Lightning indexer top-k for DeepSeek-V4 CSA layers (paper §2.3.1 eqs. 13-17).

Owns: score(t, s) = sum_h w[t, h] * ReLU(q[t, h] . k[s]) * softmax_scale over the compressed indexer
keys, causality (entry `s` is visible to the query at position `p` when `s < (p + 1) // ratio`),
and the top-k with invalid picks replaced by -1, exactly as transformers' `DeepseekV4Indexer`.

`reference` materialises the whole (S, H, T) score tensor like transformers does; `torch_chunked`
(CPU fast path) scores a block of queries at a time so at most `budget` floats of scores exist,
whatever the context length (ENGINE_ANCHORS.md §3.3, §9.2), and ranks only the block's causally
visible prefix (on average half of each row); rows where a tie could make torch.topk's choice
depend on the rest of the row are ranked over the full row, so the picks (ties included, in
order) are the ones torch.topk makes on the reference's full row.
The Triton path lives in `indexer_triton.py`. Does not know caches or modules.
"""

import torch

SCORE_BUDGET = 1 << 22  # floats of (block, heads, T) scores held at once
QUERY_BLOCK = 256  # and never more than this many query rows


def _finish(scores, q_pos, ratio, topk):
    """Causal mask (in place), top-k and -1 for picks past the causal threshold.

    scores (C, T) for the queries at positions q_pos (C,).
    """
    n_keys = scores.shape[-1]
    k = min(topk, n_keys)
    if n_keys == 0:
        return torch.empty(scores.shape[0], 0, dtype=torch.long, device=scores.device)
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
    return _finish(scores, q_start + torch.arange(scores.shape[0], device=scores.device), ratio,
                   topk)


def _visible_topk(scores, q_pos, ratio, n_keys, k):
    """Top-k of a block's rows ranking only the visible prefix (C, n_vis), -1 padded to k.

    Beyond the prefix every score is -inf, so the finite picks and their order are those of
    the full row, unless a pick ties with another score: torch.topk's order among equal values
    depends on the whole row. Scores are sums of ReLUs times head weights, so the value that
    repeats is exactly 0.0 (a query whose head weights are all negative has nothing above it);
    rows with a 0.0 pick are ranked again over the full row, as the reference ranks them.
    """
    n_vis = scores.shape[-1]
    threshold = ((q_pos + 1) // ratio)[:, None]
    entries = torch.arange(n_vis, device=scores.device)[None, :]
    scores.masked_fill_(entries >= threshold, float("-inf"))
    values, picks = scores.topk(min(k, n_vis), dim=-1)
    picks.masked_fill_(picks >= threshold, -1)
    if picks.shape[1] < k:
        picks = torch.cat([picks, picks.new_full((picks.shape[0], k - picks.shape[1]), -1)], 1)
    tied = (values == 0).any(dim=-1).nonzero().flatten()
    if tied.numel():
        full = scores.new_full((tied.numel(), n_keys), float("-inf"))
        full[:, :n_vis] = scores[tied]
        picks[tied] = _finish(full, q_pos[tied], ratio, k)
    return picks


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
        if n_vis == 0:
            out[a:b] = -1
            continue
        # The reference's ops in its order (bitwise scores), in place.
        raw = (q[a:b].float().reshape(c * heads, dim) @ keys_t[:, :n_vis]).view(c, heads, n_vis)
        raw.relu_().mul_(softmax_scale).mul_(weights[a:b].float().unsqueeze(-1))
        q_pos = q_start + torch.arange(a, b, device=q.device)
        out[a:b] = _visible_topk(raw.sum(dim=1), q_pos, ratio, n_keys, k)
    return out
