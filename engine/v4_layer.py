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
    return F.rms_norm(x.float(), (x.shape[-1],), weight, eps).to(x.dtype)


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


def hc_weights(hc, streams: torch.Tensor):
    """`DeepseekV4HyperConnection.forward`: (post, comb, collapsed) for streams (B, S, N, D)."""
    batch, seq, n, _ = streams.shape
    flat = rms_norm(hc.input_norm, streams.reshape(batch, seq, -1).float())
    mixes = F.linear(flat, hc.fn.float())
    pre_w, post_w, comb_w = mixes.split([n, n, n * n], dim=-1)
    pre_b, post_b, comb_b = hc.base.split([n, n, n * n])
    pre_scale, post_scale, comb_scale = hc.scale.unbind(0)
    pre = torch.sigmoid(pre_w * pre_scale + pre_b) + hc.hc_eps
    post = 2 * torch.sigmoid(post_w * post_scale + post_b)
    comb = torch.softmax(comb_w.reshape(batch, seq, n, n) * comb_scale + comb_b.view(n, n), dim=-1)
    comb = sinkhorn(comb.add_(hc.hc_eps), hc.hc_sinkhorn_iters, hc.hc_eps)
    collapsed = (pre.unsqueeze(-1) * streams).sum(dim=2).to(streams.dtype)
    return post, comb, collapsed


def hc_mix(post, comb, out: torch.Tensor, streams: torch.Tensor) -> torch.Tensor:
    """post[k] * out + sum_j comb[j, k] * streams[j], for every stream k: (B, S, N, D)."""
    dtype = streams.dtype
    post, comb = post.to(dtype), comb.to(dtype)
    n = streams.shape[2]
    if dtype != torch.float32 or n > 2:  # bitwise only where checked: fp32, N <= 2
        mixed = torch.matmul(comb.transpose(-1, -2), streams)
        return post.unsqueeze(-1) * out.unsqueeze(-2) + mixed
    mixed = torch.empty_like(streams)
    for k in range(n):
        acc = comb[..., 0, k, None] * streams[:, :, 0]
        for j in range(1, n):
            acc.add_(comb[..., j, k, None] * streams[:, :, j])
        torch.add(acc, post[..., k, None] * out, out=mixed[:, :, k])
    return mixed


def run_layer(layer, hidden: torch.Tensor, input_ids=None, **kwargs) -> torch.Tensor:
    """`DeepseekV4DecoderLayer.forward` on the fast path; hidden (B, S, N, D) -> same."""
    post, comb, collapsed = hc_weights(layer.attn_hc, hidden)
    attn, _ = layer.self_attn(rms_norm(layer.input_layernorm, collapsed), **kwargs)
    hidden = hc_mix(post, comb, attn, hidden)
    post, comb, collapsed = hc_weights(layer.ffn_hc, hidden)
    mlp = layer.mlp(rms_norm(layer.post_attention_layernorm, collapsed), input_ids=input_ids)
    return hc_mix(post, comb, mlp, hidden)
