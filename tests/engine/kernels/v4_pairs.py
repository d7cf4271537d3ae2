"""Builders for the V4 kernel tests: a transformers reference model and our fast copy of it."""
from __future__ import annotations

import copy

V4_KERNEL_TEST = dict(  # small, but with the real window (128) and compression rates (4, 128)
    vocab_size=256, hidden_size=64, moe_intermediate_size=32, num_hidden_layers=4,
    num_attention_heads=4, num_key_value_heads=1, head_dim=64, q_lora_rank=32,
    num_experts_per_tok=2, n_routed_experts=8, n_shared_experts=1, o_groups=2, o_lora_rank=16,
    index_n_heads=2, index_head_dim=32, index_topk=8, sliding_window=128, hc_mult=2,
    max_position_embeddings=1 << 20,
    rope_scaling={"beta_fast": 32, "beta_slow": 1, "factor": 16,
                  "original_max_position_embeddings": 65536, "type": "yarn"},
    layer_types=["sliding_attention", "compressed_sparse_attention",
                 "heavily_compressed_attention", "compressed_sparse_attention"],
)


def build_reference(overrides: dict | None = None, base: dict | None = None):
    """`DeepseekV4ForCausalLM` after `torch.manual_seed(0)`, fp32, with the zero-initialised
    sinks, position biases, hash table and router bias randomised so every path is exercised."""
    import torch
    from transformers import DeepseekV4Config, DeepseekV4ForCausalLM

    torch.manual_seed(0)
    config = DeepseekV4Config(**{**(base or V4_KERNEL_TEST), **(overrides or {})})
    model = DeepseekV4ForCausalLM(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("sinks", "position_bias")):
                param.normal_(0, 0.5)
        for name, buf in model.named_buffers():
            if name.endswith("tid2eid"):
                buf.copy_(torch.randint(0, config.n_routed_experts, buf.shape))
            if name.endswith("e_score_correction_bias"):
                buf.normal_(0, 0.1)
    return model


def fast_copy(reference, **kwargs):
    from engine.deepseek_v4 import apply_fast_v4

    return apply_fast_v4(copy.deepcopy(reference), **kwargs)
