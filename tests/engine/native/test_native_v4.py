"""Native-precision V4: FP8/FP4 kept as stored, exact against the dequantized model, file-sized."""
from __future__ import annotations

import warnings

import pytest
import torch

from engine.deepseek_v4 import format as v4_format
from engine.placement.options import LoadOptions
from engine.deepseek_v4.reference import PrecisionWarning, load_v4
from engine.deepseek_v4.native import Fp4Experts, Fp8BlockLinear, load_v4_native, resident_bytes
from engine.deepseek_v4.native import modules as native_modules
from engine.deepseek_v4.native.loader import file_bytes
from engine.deepseek_v4.tiny import TEST_V4, build_tiny_v4


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_v4(tmp_path_factory.mktemp("native") / "tiny", TEST_V4, seed=0)


def _ids(n=40, seed=0):
    return torch.randint(3, TEST_V4["vocab_size"], (1, n),
                         generator=torch.Generator().manual_seed(seed))


def _dequantized(folder, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        return load_v4(folder, LoadOptions(dtype=dtype))[0]


@pytest.mark.slow
def test_bf16_native_logits_equal_the_dequantized_model(tiny):
    native = load_v4_native(tiny, dtype=torch.bfloat16)
    layer = native.model.layers[1]
    assert isinstance(layer.self_attn.q_b_proj, Fp8BlockLinear)
    assert isinstance(layer.self_attn.o_a_proj, Fp8BlockLinear)
    assert layer.self_attn.o_a_proj.groups == 2
    assert isinstance(layer.mlp.shared_experts.down_proj, Fp8BlockLinear)
    assert isinstance(layer.mlp.experts, Fp4Experts)
    assert layer.mlp.experts.gate_up.dtype == torch.int8
    assert layer.self_attn.q_b_proj.weight.dtype == torch.float8_e4m3fn
    assert isinstance(layer.self_attn.compressor.kv_proj, torch.nn.Linear)  # BF16 in the release
    assert native.native_report["fp4_expert_layers"] == 4
    reference = _dequantized(tiny, "bfloat16")
    ids = _ids()
    with torch.no_grad():
        got, want = native(ids).logits, reference(ids).logits
    assert torch.equal(got, want)  # same bf16 values, same ops: bit for bit
    with torch.no_grad():  # and through the cache, one decode step
        out = native(ids, use_cache=True)
        ref = reference(ids, use_cache=True)
        nxt = want[:, -1:].argmax(-1)
        step = native(nxt, past_key_values=out.past_key_values).logits
        ref_step = reference(nxt, past_key_values=ref.past_key_values).logits
    assert torch.equal(step, ref_step)


@pytest.mark.slow
def test_fp32_native_logits_match_the_dequantized_model(tiny):
    native = load_v4_native(tiny, dtype=torch.float32)
    reference = _dequantized(tiny, "float32")
    ids = _ids(seed=1)
    with torch.no_grad():
        got, want = native(ids).logits, reference(ids).logits
    assert (got - want).abs().max().item() <= 1e-5 * max(1.0, want.abs().max().item())
    assert torch.equal(got.argmax(-1), want.argmax(-1))


def test_resident_bytes_are_the_file_bytes(tiny):
    native = load_v4_native(tiny, dtype=torch.bfloat16)
    stored = file_bytes(tiny)
    held = resident_bytes(native)
    assert stored <= held <= 1.10 * stored
    assert native.native_report["resident_over_file"] < 1.01  # only rotary tables on top
    assert native.native_report["mtp_tensors_skipped"] > 0
    held_tensors = {n for n, _ in native.named_buffers()} | {n for n, _ in
                                                             native.named_parameters()}
    assert not any(".mtp" in n for n in held_tensors)
    dequantized = resident_bytes(_dequantized(tiny, "bfloat16"))
    assert dequantized > 1.5 * held  # what transformers holds on a CPU for the same folder


def test_fp8_strips_and_expert_dequantization_are_exact():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(640, 384, generator=gen)
    q, s = v4_format.quantize_fp8(w)
    x = torch.randn(3, 384, generator=gen)
    full = native_modules.fp8_matmul(x, q, s, torch.float32)
    strips = native_modules.fp8_matmul(x, q, s, torch.float32, strip=128 * 384)  # 5 strips
    want = x @ v4_format.dequantize_fp8(q, s).T
    assert torch.allclose(full, want, atol=1e-5) and torch.allclose(strips, want, atol=1e-5)
    assert torch.equal(native_modules.fp8_matmul(x[:0], q, s, torch.float32), want[:0])
    packed, scale = v4_format.quantize_fp4(w)
    got = native_modules.fp4_matmul(x, packed, scale, torch.float32)
    assert torch.allclose(got, x @ v4_format.dequantize_fp4(packed, scale).T, atol=1e-5)


def test_unknown_tensor_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    from engine.errors import ModelLoadError

    folder = build_tiny_v4(tmp_path / "t", TEST_V4, seed=0, mtp=False)
    shard = sorted(folder.glob("model-*.safetensors"))[0]
    tensors = load_file(shard)
    tensors["layers.0.attn.surprise"] = torch.zeros(2)
    save_file(tensors, shard, metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match="surprise"):
        load_v4_native(folder)
