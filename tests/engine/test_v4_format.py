"""The V4 release encodings and names, checked against transformers' own reader and renamer."""
from __future__ import annotations

import pytest
import torch

from engine.deepseek_v4 import format as v4_format
from engine.deepseek_v4.format import (dequantize_fp4, dequantize_fp8, from_e8m0, quantize_fp4,
                              quantize_fp8, storage_kind)


def _transformers_dequant(q, scale):
    from transformers.integrations.finegrained_fp8 import Fp8Dequantize

    return Fp8Dequantize(None)._dequantize_one(q, scale, output_dtype=torch.float32)


@pytest.mark.parametrize("shape", [(256, 384), (128, 128), (200, 130)])
def test_fp8_blocks_have_power_of_two_scales_and_small_error(shape):
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(*shape, generator=gen) * torch.logspace(-3, 1, shape[1])
    q, scale = quantize_fp8(w)
    assert q.dtype == torch.float8_e4m3fn and q.shape == w.shape
    assert scale.dtype == torch.float8_e8m0fnu
    assert scale.shape == (-(-shape[0] // 128), -(-shape[1] // 128))
    s = from_e8m0(scale)
    assert torch.equal(torch.exp2(torch.log2(s).round()), s)
    back = dequantize_fp8(q, scale)
    # e4m3 keeps 3 mantissa bits (half an ulp: 2^-4 relative); subnormals step by 2^-9 * scale
    blocks = s.repeat_interleave(128, 0).repeat_interleave(128, 1)[: shape[0], : shape[1]]
    assert ((back - w).abs() <= w.abs() * 2.0 ** -4 + blocks * 2.0 ** -10).all()
    assert (back - w).abs().max() < w.abs().max() * 0.07
    assert torch.equal(dequantize_fp8(*quantize_fp8(back)), back)  # on the grid: a fixed point


def test_fp8_agrees_with_transformers_dequantizer():
    w = torch.randn(256, 512, generator=torch.Generator().manual_seed(1))
    q, scale = quantize_fp8(w)
    assert torch.equal(dequantize_fp8(q, scale), _transformers_dequant(q, scale))


def test_fp4_packs_low_nibble_first_and_round_trips_grid_values():
    grid = torch.tensor(v4_format.FP4_VALUES[:8] + v4_format.FP4_VALUES[9:] + (0.0,))
    row = torch.cat([grid, grid.flip(0)]) * 4.0  # 32 values -> one scale of 4 (amax 24 / 6)
    packed, scale = quantize_fp4(row[None, :])
    assert packed.dtype == torch.int8 and packed.shape == (1, 16)
    assert scale.shape == (1, 1) and from_e8m0(scale).item() == 4.0
    first = packed.view(torch.uint8)[0, 0].item()
    assert first & 0xF == 0 and first >> 4 == 1  # 0.0 -> code 0 (low), 0.5 -> code 1 (high)
    assert torch.equal(dequantize_fp4(packed, scale), row[None, :])


def test_fp4_agrees_with_transformers_and_stays_within_half_a_step():
    w = torch.randn(64, 256, generator=torch.Generator().manual_seed(2))
    packed, scale = quantize_fp4(w)
    ours = dequantize_fp4(packed, scale)
    assert torch.equal(ours, _transformers_dequant(packed, scale))
    step = from_e8m0(scale).repeat_interleave(32, dim=1)  # coarsest e2m1 gap is 2 (4 -> 6)
    assert ((ours - w).abs() <= step + 1e-6).all()
    assert (ours - w).abs().mean() < w.abs().mean() * 0.2


def test_storage_kinds_follow_the_instruct_release():
    table = {
        "embed.weight": "bf16", "head.weight": "bf16", "norm.weight": "bf16",
        "hc_head_fn": "f32", "layers.0.hc_attn_fn": "f32", "layers.3.hc_ffn_scale": "f32",
        "layers.0.attn.wq_a.weight": "fp8", "layers.0.attn.wo_a.weight": "fp8",
        "layers.0.attn.attn_sink": "f32", "layers.0.attn.q_norm.weight": "bf16",
        "layers.2.attn.compressor.wkv.weight": "bf16", "layers.2.attn.compressor.ape": "f32",
        "layers.2.attn.indexer.wq_b.weight": "fp8",
        "layers.2.attn.indexer.weights_proj.weight": "bf16",
        "layers.2.attn.indexer.compressor.wgate.weight": "bf16",
        "layers.0.ffn.gate.tid2eid": "i64", "layers.3.ffn.gate.bias": "f32",
        "layers.3.ffn.gate.weight": "bf16", "layers.0.ffn.experts.17.w2.weight": "fp4",
        "layers.0.ffn.shared_experts.w3.weight": "fp8", "mtp.0.e_proj.weight": "fp8",
    }
    assert {name: storage_kind(name) for name in table} == table
    assert storage_kind("layers.0.ffn.experts.1.w1.weight", quantized=False) == "bf16"


def test_official_names_invert_transformers_conversion_mapping():
    """Our HF -> official names, run through transformers' official -> HF renames, come back."""
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM
    from transformers.conversion_mapping import get_checkpoint_conversion_mapping

    from engine.deepseek_v4.tiny import TEST_V4, make_config

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(make_config(TEST_V4))
    hf_names = set(model.state_dict())
    official = v4_format.hf_to_official(model.state_dict())
    assert "layers.1.attn.indexer.compressor.ape" in official
    assert "layers.3.ffn.experts.7.w3.weight" in official
    mapping = get_checkpoint_conversion_mapping("deepseek_v4")
    back = set()
    for name in official:
        for transform in mapping:
            name, _ = transform.rename_source_key(name)
        back.add(name if name == "lm_head.weight" else f"model.{name}")
    assert back == hf_names
