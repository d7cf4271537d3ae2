"""LoRA targets per architecture, checked against the real module trees PEFT wraps."""
from __future__ import annotations

import pytest

from workbench.adapters.targets import LLAMA_MODULES, choose_targets


def test_llama_style_targets_attention_and_mlp():
    choice = choose_targets("llama")
    assert choice.target_modules == LLAMA_MODULES
    assert "q, k, v, o" in choice.note and "MLP" in choice.note


def test_unknown_architecture_without_llama_layers_is_refused():
    with pytest.raises(ValueError, match="no LoRA target modules known for model type 'gpt2'"):
        choose_targets("gpt2", ["transformer.h.0.attn.c_attn"])


@pytest.mark.slow
def test_v4_lora_skips_routed_experts():
    import torch
    from transformers import DeepseekV4ForCausalLM

    from engine.deepseek_v4.tiny import TEST_V4, make_config
    from workbench.adapters.targets import targets_for
    from workbench.adapters.training import TrainSettings, make_lora_model

    torch.manual_seed(0)
    model = DeepseekV4ForCausalLM(make_config(TEST_V4))
    choice = targets_for(model)
    assert "routed experts are not trained" in choice.note
    peft_model = make_lora_model(model, TrainSettings(rank=4, layers=2), choice)
    wrapped = sorted({n.rsplit(".lora_A", 1)[0] for n, _ in peft_model.named_modules()
                      if n.endswith(".lora_A")})
    leaves = {w.split(".layers.")[1].split(".", 1)[1] for w in wrapped}
    assert leaves == {"self_attn.q_a_proj", "self_attn.q_b_proj", "self_attn.kv_proj",
                      "self_attn.o_b_proj", "mlp.shared_experts.gate_proj",
                      "mlp.shared_experts.up_proj", "mlp.shared_experts.down_proj"}
    assert {int(w.split(".layers.")[1].split(".")[0]) for w in wrapped} == {2, 3}
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert not any(".experts." in n or "compressor" in n or "indexer" in n for n in trainable)
    ids = torch.randint(0, 1024, (1, 12))
    loss = peft_model(input_ids=ids, labels=ids).loss
    loss.backward()
    assert all(p.grad is not None for n, p in peft_model.named_parameters() if p.requires_grad)
