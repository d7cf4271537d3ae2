"""How Longhand's kernels enter a transformers DeepSeek-V4 model: `apply_fast_v4(model)`.

Owns the swap, PEFT-style, of module *instances* in a loaded `DeepseekV4ForCausalLM`
(verified against transformers 5.23.0, the pin in requirements.txt):
- every `self_attn` becomes a `FastV4Attention` (engine/deepseek_v4/attention.py),
- every `mlp.experts` becomes a `FusedV4Experts` (grouped MoE kernel, hash-routed layers too),
  except native FP4 experts (engine/native: `Fp4Experts`, or placed ones from
  engine/deepseek_v4/expert_offload.py), which already compute from the packed bytes,
- `model.model` becomes a `FastV4Model`: the same embeddings, decoder layers, mHC head and norm,
  run by engine/deepseek_v4/layer.py (fused norms and mHC math, bitwise transformers'), no dense
  mask, a `V4Cache`, and long prompts fed in chunks (exact: chunked prefill
  equals one piece) so activations stay bounded at any context length.
Parameters are shared, never copied; no library class is patched. `generate` works unchanged: its
default cache is refitted with fast layers on first use (engine/deepseek_v4/cache.py `adopt`).
Does not know checkpoints, tokenizers or loading (engine/loading.py, engine/deepseek_v4/tiny.py).
"""

import torch
from torch import nn
from transformers.modeling_outputs import MoeModelOutputWithPast

from engine.allocator import retain_freed_memory
from engine.kernels import dispatch
from engine.deepseek_v4.native.modules import Fp4Experts
from engine.deepseek_v4.attention import FastV4Attention
from engine.deepseek_v4.cache import V4Cache, adopt
from engine.deepseek_v4.layer import rms_norm, run_layer

VERIFIED_TRANSFORMERS = "5.23.0"
PREFILL_CHUNK = 16384  # one piece up to 16K; longer prompts in pieces (bounded memory)


class FusedV4Experts(nn.Module):
    """Replaces one `DeepseekV4Experts` instance; same (hidden, top_k_index, top_k_weights) API."""

    def __init__(self, original: nn.Module, backend: str | None = None):
        super().__init__()
        self.num_experts = original.num_experts
        self.gate_up_proj = original.gate_up_proj  # (E, 2I, H), shared
        self.down_proj = original.down_proj  # (E, H, I), shared
        self.limit = original.limit
        self.backend = backend

    def forward(self, hidden_states, top_k_index, top_k_weights):
        return dispatch.moe_experts(hidden_states, top_k_index, top_k_weights, self.gate_up_proj,
                                    self.down_proj, self.limit, self.backend)


class FastV4Model(nn.Module):
    """Replaces `DeepseekV4Model`: same submodules, sparse attention, chunked prefill."""

    def __init__(self, original: nn.Module, prefill_chunk: int = PREFILL_CHUNK):
        super().__init__()
        self.config = original.config
        self.embed_tokens = original.embed_tokens
        self.layers = original.layers
        self.norm = original.norm
        self.rotary_emb = original.rotary_emb
        self.hc_head = original.hc_head
        self.prefill_chunk = prefill_chunk
        self.keep_last = 0  # set per call by the CausalLM's pre-hook (_note_logits_to_keep)

    def get_input_embeddings(self):
        return self.embed_tokens

    def _run(self, ids, embeds, cache, keep: int):
        """One piece through every layer; returns the last `keep` positions' hidden states."""
        start = cache.get_seq_length()
        seq = embeds.shape[1]
        positions = (torch.arange(seq, device=embeds.device) + start).unsqueeze(0)
        rope = {
            "main": self.rotary_emb(embeds, position_ids=positions, layer_type="main"),
            "compress": self.rotary_emb(embeds, position_ids=positions, layer_type="compress"),
        }
        hidden = embeds.unsqueeze(2).expand(-1, -1, self.config.hc_mult, -1).contiguous()
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            hidden = run_layer(layer, hidden, input_ids=ids, position_embeddings=rope,
                               position_ids=positions, attention_mask=None, past_key_values=cache,
                               keep=keep if i == last and keep < seq else None)
        if hidden.shape[1] == 0:
            return embeds[:, :0]
        return rms_norm(self.norm, self.hc_head(hidden))

    def forward(self, input_ids=None, attention_mask=None, position_ids=None,
                past_key_values=None, inputs_embeds=None, use_cache=None, **kwargs):
        keep_last, self.keep_last = self.keep_last, 0  # one call's worth, even if it fails
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        if isinstance(attention_mask, torch.Tensor) and attention_mask.dim() == 2:
            if not bool(attention_mask.all()):
                raise ValueError("the fast V4 path takes unpadded batch-1 input (mask of ones)")
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            raise RuntimeError(
                "Longhand's fused DeepSeek-V4 kernels are inference-only (they write into reused "
                "buffers, which autograd cannot follow): run under torch.no_grad(), or load the "
                "model with LoadOptions(kernels=False) to train it")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        cache = adopt(past_key_values, self.config)
        if cache is None:
            cache = V4Cache(self.config)
        total = inputs_embeds.shape[1]
        wanted = total - keep_last if 0 < keep_last < total else 0
        outputs = []
        for a in range(0, total, self.prefill_chunk):
            b = min(total, a + self.prefill_chunk)
            ids = None if input_ids is None else input_ids[:, a:b]
            keep = b - max(a, wanted)  # rows of this piece at or after the first wanted one
            outputs.append(self._run(ids, inputs_embeds[:, a:b], cache, max(keep, 0)))
        hidden = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)
        return MoeModelOutputWithPast(last_hidden_state=hidden,
                                      past_key_values=cache if use_cache else None)


def _note_logits_to_keep(model, args, kwargs):
    """Forward pre-hook on the CausalLM: tell FastV4Model how many final positions are wanted.

    transformers computes every position's last hidden state and then slices
    `hidden[:, -logits_to_keep:]` for the LM head; the fast model computes only those rows in
    its last layer (llama.cpp does the same for unused outputs) and returns exactly them, which
    that slice takes whole. Anything else (0, a tensor of indices, labels for a loss): all rows.
    """
    keep = kwargs.get("logits_to_keep", 0)
    plain = isinstance(keep, int) and not isinstance(keep, bool) and kwargs.get("labels") is None
    model.model.keep_last = keep if plain and keep > 0 else 0


def apply_fast_v4(model: nn.Module, backend: str | None = None,
                  prefill_chunk: int = PREFILL_CHUNK) -> nn.Module:
    """Swap our kernels into a transformers DeepSeek-V4 model in place; returns the model.

    `backend` forces "reference" | "torch" | "triton" for every kernel (default: by device).
    """
    base = model.model
    if isinstance(base, FastV4Model):
        return model
    if getattr(model.config, "model_type", None) != "deepseek_v4":
        raise ValueError(f"apply_fast_v4 needs a deepseek_v4 model, got {model.config.model_type}")
    for layer in base.layers:
        layer.self_attn = FastV4Attention(layer.self_attn, backend)
        if not isinstance(layer.mlp.experts, Fp4Experts):  # native FP4 experts run themselves
            layer.mlp.experts = FusedV4Experts(layer.mlp.experts, backend)
    model.model = FastV4Model(base, prefill_chunk)
    model.register_forward_pre_hook(_note_logits_to_keep, with_kwargs=True)
    retain_freed_memory()
    return model
