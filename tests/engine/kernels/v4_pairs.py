"""Builders for the V4 kernel tests: a transformers reference model and our fast copy of it."""
from __future__ import annotations

import copy

# real window and rates (4, 128)
from engine.deepseek_v4.tiny import WINDOW_TEST_V4 as V4_KERNEL_TEST


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
    from engine.deepseek_v4.model import apply_fast_v4

    return apply_fast_v4(copy.deepcopy(reference), **kwargs)
