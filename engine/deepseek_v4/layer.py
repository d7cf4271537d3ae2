"""One DeepSeek-V4 decoder layer on the fast path: mHC, norms and the residual mix in few passes.

Owns the math of transformers 5.23.0's `DeepseekV4DecoderLayer.forward` and
`DeepseekV4HyperConnection.forward` (manifold-constrained hyper-connections, Sinkhorn-projected
mixing) written for speed on CPU, over the *original* layer's parameters and submodules:
- RMSNorms run as one fused `F.rms_norm` (bitwise the same as transformers' chain of pow, mean,
  rsqrt and mul in fp32, without its four full-size temporaries);
- the Sinkhorn iterations run in place on the small (S, N, N) tensor;
- the residual mix (`post * out + comb^T @ streams`) is N multiply-adds per stream instead of a
  broadcasted batch of N x N matmuls (fp32 and N <= 2, where it is bitwise the matmul's result;
  otherwise the matmul itself).
Every function here was checked bitwise against transformers on bench-v4-small shapes.
Attention and MoE are the layer's own (swapped) modules. Does not know caches or kernels.
"""

import torch
import torch.nn.functional as F


def rms_norm(module, x: torch.Tensor) -> torch.Tensor:
    """A transformers `DeepseekV4RMSNorm` / `UnweightedRMSNorm` applied in one fused op."""
    weight = getattr(module, "weight", None)
    eps = module.variance_epsilon if weight is not None else module.eps
    if weight is None and x.dtype != torch.float32:
        return module(x)  # the unweighted norm rounds its scale to x's dtype first
    if (x.device.type != "cpu" or x.dtype != torch.float32
            or (weight is not None and weight.dtype != torch.float32)):
        return F.rms_norm(x.float(), (x.shape[-1],), weight, eps).to(x.dtype)
    # F.rms_norm's own CPU steps (pow, mean, add eps, rsqrt, mul, mul weight) in one buffer:
    # bitwise its result, with one full-size allocation instead of three.
    out = torch.pow(x, 2)
    scale = out.mean(-1, keepdim=True).add_(eps).rsqrt_()
    torch.mul(x, scale, out=out)
    return out.mul_(weight) if weight is not None else out


def _sum(parts: torch.Tensor) -> torch.Tensor:
    """parts[0] + parts[1] + ...: torch.sum's own order over a dim of size <= 4, no reduction."""
    total = parts[0].clone()
    for part in parts[1:]:
        total.add_(part)
    return total


def sinkhorn(comb: torch.Tensor, iters: int, eps: float) -> torch.Tensor:
    """transformers' Sinkhorn-Knopp on (B, S, N, N), bitwise, with S innermost in memory.

    Reducing over an axis of size N (2 or 4) is slow in torch.sum; here each row or column sum
    is N - 1 vector adds of length B*S, in the order torch.sum uses for N <= 4.
    """
    batch, seq, n, _ = comb.shape
    if n > 4:
        comb = comb / (comb.sum(dim=-2, keepdim=True) + eps)
        for _ in range(iters - 1):
            comb = comb / (comb.sum(dim=-1, keepdim=True) + eps)
            comb = comb / (comb.sum(dim=-2, keepdim=True) + eps)
        return comb
    cols = comb.permute(2, 3, 0, 1).reshape(n, n, batch * seq).contiguous()  # [j, k, t]
    cols.div_(_sum(cols).add_(eps))  # columns: sum over j
    for _ in range(iters - 1):
        cols.div_(_sum(cols.transpose(0, 1)).add_(eps)[:, None])  # rows: sum over k
        cols.div_(_sum(cols).add_(eps))
    return cols.permute(2, 0, 1).view(batch, seq, n, n)


def hc_weights(hc, streams: torch.Tensor, keep: int | None = None):
    """`DeepseekV4HyperConnection.forward`: (post, comb, collapsed) for streams (B, S, N, D).

    With `keep`, post and comb (and their Sinkhorn) are made for the last `keep` positions only;
    `collapsed` is every position's (it feeds the keys that the cache stores).
    """
    batch, seq, n, _ = streams.shape
    tail = slice(None) if keep is None else slice(seq - keep, None)
    flat = rms_norm(hc.input_norm, streams.reshape(batch, seq, -1).float())
    mixes = F.linear(flat, hc.fn.float())
    pre_w, post_w, comb_w = mixes.split([n, n, n * n], dim=-1)
    post_w, comb_w = post_w[:, tail], comb_w[:, tail]
    rows = post_w.shape[1]
    pre_b, post_b, comb_b = hc.base.split([n, n, n * n])
    pre_scale, post_scale, comb_scale = hc.scale.unbind(0)
    pre = torch.sigmoid(pre_w * pre_scale + pre_b) + hc.hc_eps
    post = 2 * torch.sigmoid(post_w * post_scale + post_b)
    comb = torch.softmax(comb_w.reshape(batch, rows, n, n) * comb_scale + comb_b.view(n, n), dim=-1)
    comb = sinkhorn(comb.add_(hc.hc_eps), hc.hc_sinkhorn_iters, hc.hc_eps)
    return post, comb, _collapse(pre, streams)


def _collapse(pre: torch.Tensor, streams: torch.Tensor) -> torch.Tensor:
    """sum_j pre[j] * streams[j]: (B, S, N) x (B, S, N, D) -> (B, S, D).

    For N <= 4 in fp32 it is N products added in torch.sum's order (bitwise the reference's
    `(pre * streams).sum(dim=2)`) without its (B, S, N, D) temporary.
    """
    n = streams.shape[2]
    if streams.dtype != torch.float32 or n > 4:
        return (pre.unsqueeze(-1) * streams).sum(dim=2).to(streams.dtype)
    total = streams[:, :, 0] * pre[..., 0, None]
    for j in range(1, n):
        total.add_(streams[:, :, j] * pre[..., j, None])
    return total


def hc_mix(post, comb, out: torch.Tensor, streams: torch.Tensor) -> torch.Tensor:
    """post[k] * out + sum_j comb[j, k] * streams[j], for every stream k: (B, S, N, D)."""
    dtype = streams.dtype
    post, comb = post.to(dtype), comb.to(dtype)
    n = streams.shape[2]
    if dtype != torch.float32 or n > 2:  # bitwise only where checked: fp32, N <= 2
        mixed = torch.matmul(comb.transpose(-1, -2), streams)
        return post.unsqueeze(-1) * out.unsqueeze(-2) + mixed
    mixed = torch.empty_like(streams)
    for k in range(n):  # the same products and sums, in the same order, written in place
        acc = torch.mul(comb[..., 0, k, None], streams[:, :, 0], out=mixed[:, :, k])
        for j in range(1, n):
            acc.add_(comb[..., j, k, None] * streams[:, :, j])
        acc.add_(post[..., k, None] * out)
    return mixed


def run_layer(layer, hidden: torch.Tensor, input_ids=None, keep: int | None = None,
              **kwargs) -> torch.Tensor:
    """`DeepseekV4DecoderLayer.forward` on the fast path; hidden (B, S, N, D) -> same.

    `keep`: only the last `keep` positions' outputs are wanted (the model's last layer when the
    caller asked for that many logits): the attention still caches every position, and the
    queries, mHC mixes and MoE run on `keep` rows; returns (B, keep, N, D).
    """
    post, comb, collapsed = hc_weights(layer.attn_hc, hidden, keep)
    attn, _ = layer.self_attn(rms_norm(layer.input_layernorm, collapsed), queries=keep, **kwargs)
    if keep is not None:
        hidden = hidden[:, hidden.shape[1] - keep :]
        if keep == 0:  # the cache has this piece; nothing of it is wanted
            return hidden
        if input_ids is not None:  # hash-routed layers route by token id
            input_ids = input_ids[:, input_ids.shape[1] - keep :]
    hidden = hc_mix(post, comb, attn, hidden)
    post, comb, collapsed = hc_weights(layer.ffn_hc, hidden)
    mlp = layer.mlp(rms_norm(layer.post_attention_layernorm, collapsed), input_ids=input_ids)
    return hc_mix(post, comb, mlp, hidden)
