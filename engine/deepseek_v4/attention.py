"""Fast DeepSeek-V4 attention: a drop-in instance for transformers' `DeepseekV4Attention`.

Owns how one V4 attention block runs on our kernels and caches: the same projections, norms,
partial interleaved RoPE and inverse RoPE as transformers 5.23.0 (it reuses the original module's
parameters and submodules, no copies), but the window comes from `WindowBuffer`, compressed entries
are pooled into `CompressorState`s window by window, the indexer's top-k comes from the chunked
kernel and attention from the sparse sink kernel (engine/kernels/dispatch.py). Nothing of size
S x S or S x T/4 is built. Batch 1 only (the engine's local backend serves one sequence).

The pooling below is transformers' compressor math (softmax(gate + position_bias) over each
window, CSA's two overlapping series, RMSNorm, RoPE at the window's absolute position) applied to
only the new windows. Does not know the decoder layer, MoE or the model loop.
"""

import torch
from torch import nn
from transformers.models.deepseek_v4.modeling_deepseek_v4 import apply_rotary_pos_emb, rotate_half

from engine.kernels import dispatch
from engine.deepseek_v4.cache import CompressorState, V4LayerCache
from engine.deepseek_v4.layer import rms_norm


def rope_(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, unsqueeze_dim: int = 2):
    """transformers' `apply_rotary_pos_emb` (bitwise) written into x's trailing rope slice.

    The reference rebuilds the whole head with `torch.cat([nope, rotated])`; only the rope slice
    (head_dim / 8 channels) changes, so it is overwritten in place. x (1, S, H, D) (or
    (1, H, S, D) with unsqueeze_dim=1); returns x.
    """
    cos = cos.repeat_interleave(2, dim=-1).unsqueeze(unsqueeze_dim)
    sin = sin.repeat_interleave(2, dim=-1).unsqueeze(unsqueeze_dim)
    rope = x[..., -cos.shape[-1] :]
    rope.copy_((rope.float() * cos) + (rotate_half(rope).float() * sin))
    return x


def pool_windows(module, state: CompressorState, hidden: torch.Tensor, overlap: bool):
    """Compress the windows that `hidden` (1, S, hidden) closes; append them to `state`."""
    kv, gate = module.kv_proj(hidden), module.gate_proj(hidden)
    chunk_kv, chunk_gate, first = state.take_windows(kv, gate)
    if chunk_kv.shape[1] == 0:
        return state.entries.view()
    batch, ratio, dim = chunk_kv.shape[0], state.ratio, module.head_dim
    n_windows = chunk_kv.shape[1] // ratio
    chunk_kv = chunk_kv.view(batch, n_windows, ratio, -1)  # (1, n, r, F)
    chunk_gate = chunk_gate.view(batch, n_windows, ratio, -1) + module.position_bias
    if overlap:  # window w pools window w-1's Ca half with its own Cb half
        new_kv = chunk_kv.new_zeros((batch, n_windows, 2 * ratio, dim))
        new_gate = chunk_gate.new_full((batch, n_windows, 2 * ratio, dim), float("-inf"))
        new_kv[:, :, ratio:] = chunk_kv[..., dim:]
        new_gate[:, :, ratio:] = chunk_gate[..., dim:]
        if n_windows > 1:
            new_kv[:, 1:, :ratio] = chunk_kv[:, :-1, :, :dim]
            new_gate[:, 1:, :ratio] = chunk_gate[:, :-1, :, :dim]
        prior_kv, prior_gate = state.swap_prior(chunk_kv, chunk_gate, dim)
        if prior_kv is not None:
            new_kv[:, 0, :ratio] = prior_kv.to(new_kv.dtype)
            new_gate[:, 0, :ratio] = prior_gate.to(new_gate.dtype)
        chunk_kv, chunk_gate = new_kv, new_gate
    weights = chunk_gate.softmax(dim=2, dtype=torch.float32).to(chunk_kv.dtype)
    compressed = rms_norm(module.kv_norm, (chunk_kv * weights).sum(dim=2))  # (1, n, D)
    positions = (torch.arange(n_windows, device=hidden.device) * ratio + first).unsqueeze(0)
    cos, sin = module.rotary_emb(compressed, position_ids=positions, layer_type="compress")
    compressed = apply_rotary_pos_emb(compressed.unsqueeze(1), cos, sin).squeeze(1)
    return state.entries.append(compressed[0])


class FastV4Attention(nn.Module):
    """Replaces one `DeepseekV4Attention` instance; same parameters, same outputs."""

    def __init__(self, original: nn.Module, backend: str | None = None):
        super().__init__()
        config = original.config
        self.config = config
        self.layer_idx = original.layer_idx
        self.layer_type = original.layer_type
        self.rope_layer_type = original.rope_layer_type
        self.num_heads, self.head_dim = original.num_heads, original.head_dim
        self.sliding_window, self.scaling = original.sliding_window, original.scaling
        self.backend = backend
        for name in ("q_a_proj", "q_a_norm", "q_b_proj", "q_b_norm", "kv_proj", "kv_norm",
                     "o_a_proj", "o_b_proj", "compressor"):
            setattr(self, name, getattr(original, name))
        self.sinks = original.sinks

    def _layer_cache(self, past_key_values) -> V4LayerCache:
        if past_key_values is None:
            return V4LayerCache(self.layer_type, self.config)
        layer = past_key_values.layers[self.layer_idx]
        if not isinstance(layer, V4LayerCache):
            raise TypeError("the fast V4 attention needs a V4Cache (engine.deepseek_v4.cache)")
        return layer

    def _indexer_topk(self, hidden, q_residual, position_ids, cache: V4LayerCache, start: int):
        """Pool the indexer keys of every new position; top-k for the last len(q_residual)."""
        indexer = self.compressor.indexer
        keys = pool_windows(indexer, cache.indexer, hidden, overlap=True)
        seq, n_q = hidden.shape[1], q_residual.shape[1]
        if keys is None or n_q == 0:
            return torch.empty(n_q, 0, dtype=torch.long, device=hidden.device)
        tail = slice(seq - n_q, None)
        cos, sin = indexer.rotary_emb(hidden, position_ids=position_ids[:, tail],
                                      layer_type="compress")
        q = rope_(indexer.q_b_proj(q_residual).view(1, n_q, -1, indexer.head_dim), cos, sin)[0]
        scorer = indexer.scorer
        weights = scorer.weights_proj(hidden[:, tail])[0].float() * scorer.weights_scaling
        return dispatch.indexer_topk(q, weights, keys, start + seq - n_q, indexer.compress_rate,
                                     indexer.index_topk, scorer.softmax_scale, self.backend)

    def forward(self, hidden_states, position_embeddings, position_ids, attention_mask=None,
                past_key_values=None, queries: int | None = None, **kwargs):
        """Attention for the last `queries` positions (all when None); every position's keys,
        compressed entries and indexer keys go into the cache either way."""
        batch, seq, _ = hidden_states.shape
        if batch != 1:
            raise ValueError("the fast V4 attention runs batch 1; call it once per sequence")
        n_q = seq if queries is None else queries
        tail = slice(seq - n_q, None)
        cos, sin = position_embeddings[self.rope_layer_type]
        kv = rms_norm(self.kv_norm, self.kv_proj(hidden_states)).view(1, seq, 1, self.head_dim)
        kv = rope_(kv, cos, sin)[0, :, 0]  # (S, D)
        cos, sin = cos[:, tail], sin[:, tail]
        q_residual = rms_norm(self.q_a_norm, self.q_a_proj(hidden_states[:, tail]))

        cache = self._layer_cache(past_key_values)
        start = cache.window.seen
        window_kv, kv_start = cache.window.extend(kv)
        comp = comp_idx = ratio = None
        if self.layer_type == "heavily_compressed_attention":
            comp = pool_windows(self.compressor, cache.compressor, hidden_states, overlap=False)
            ratio = self.compressor.compress_rate
        elif self.layer_type == "compressed_sparse_attention":
            comp = pool_windows(self.compressor, cache.compressor, hidden_states, overlap=True)
            comp_idx = self._indexer_topk(hidden_states, q_residual, position_ids, cache, start)
        if n_q == 0:
            return hidden_states.new_empty(1, 0, hidden_states.shape[-1]), None
        q = self.q_b_proj(q_residual).view(1, n_q, -1, self.head_dim)
        q = rope_(rms_norm(self.q_b_norm, q), cos, sin)[0]  # (n_q, H, D)
        out = dispatch.sparse_attention(
            q, window_kv, self.sinks, self.scaling,
            self.sliding_window, start + seq - n_q, kv_start, comp=comp, comp_idx=comp_idx,
            comp_ratio=ratio, backend=self.backend,
        )  # (n_q, H, D)
        out = rope_(out.unsqueeze(0), cos, -sin)  # (1, n_q, H, D)
        grouped = self.o_a_proj(out.reshape(1, n_q, self.config.o_groups, -1)).flatten(2)
        return self.o_b_proj(grouped), None
