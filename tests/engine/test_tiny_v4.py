"""Small V4 checkpoints in the official layout, and the V4 loader's exact round trip."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from engine.deepseek_v4 import format as v4_format
from engine.placement.options import LoadOptions
from engine.deepseek_v4.reference import PrecisionWarning, inspect_checkpoint, load_v4
from engine.deepseek_v4.tiny import BENCH_V4_SMALL, TEST_V4, build_tiny_v4, main, make_config

FLASH_JSON = (Path(__file__).resolve().parents[2] / "engine" / "deepseek_v4" / "configs"
              / "deepseek-v4-flash.json")
HEADER = {"fp8": "F8_E4M3", "fp4": "I8", "bf16": "BF16", "f32": "F32", "i64": "I64"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_v4(tmp_path_factory.mktemp("v4") / "tiny", TEST_V4, seed=0)


def _headers(folder: Path) -> dict:
    out = {}
    for shard in sorted(folder.glob("model-*.safetensors")):
        with safe_open(shard, framework="pt") as f:
            for name in f.keys():
                view = f.get_slice(name)
                out[name] = (view.get_dtype(), tuple(view.get_shape()), shard.name)
    return out


def _stored(folder: Path) -> dict:
    out = {}
    for shard in folder.glob("model-*.safetensors"):
        out.update(load_file(shard))
    return out


def test_layout_matches_the_official_release(tiny):
    headers = _headers(tiny)
    index = json.loads((tiny / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) == 6  # embed, 4 layers, head + MTP
    assert {n: s for n, (_, _, s) in headers.items()} == index["weight_map"]
    assert index["metadata"]["total_size"] == sum(
        (tiny / s).stat().st_size for s in set(index["weight_map"].values())) - sum(
        8 + int.from_bytes((tiny / s).read_bytes()[:8], "little")
        for s in set(index["weight_map"].values()))
    for name, (dtype, shape, _) in headers.items():
        if name.endswith(".scale"):
            assert dtype == "F8_E8M0", name
            continue
        assert dtype == HEADER[v4_format.storage_kind(name)], name
    h, inter = TEST_V4["hidden_size"], TEST_V4["moe_intermediate_size"]
    assert headers["layers.0.ffn.experts.3.w1.weight"][:2] == ("I8", (inter, h // 2))
    assert headers["layers.0.ffn.experts.3.w1.scale"][1] == (inter, h // 32)
    assert headers["layers.3.ffn.experts.7.w2.weight"][1] == (h, inter // 2)
    assert headers["layers.0.attn.wq_a.scale"][1] == (1, h // 128)
    assert headers["layers.1.attn.compressor.wkv.weight"][0] == "BF16"
    assert headers["layers.1.attn.indexer.compressor.ape"][0] == "F32"
    assert headers["layers.0.ffn.gate.tid2eid"][0] == "I64"
    assert "layers.3.ffn.gate.bias" in headers and "layers.3.ffn.gate.tid2eid" not in headers
    assert headers["mtp.0.e_proj.weight"][0] == "F8_E4M3"


def test_config_has_the_official_shape_and_parses(tiny):
    from transformers import DeepseekV4Config

    ours = json.loads((tiny / "config.json").read_text())
    flash = json.loads(FLASH_JSON.read_text())
    assert set(ours) == set(flash)
    assert ours["quantization_config"] == flash["quantization_config"]
    assert ours["expert_dtype"] == "fp4" and ours["compress_ratios"] == [0, 4, 128, 4, 0]
    parsed = DeepseekV4Config.from_pretrained(tiny)
    assert parsed.layer_types == make_config(TEST_V4).layer_types
    assert parsed.rope_parameters["compress"]["rope_type"] == "yarn"


def test_shipped_flash_config_is_v4_flash():
    from transformers import DeepseekV4Config

    cfg = DeepseekV4Config.from_json_file(FLASH_JSON)
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.n_routed_experts) == (43, 4096, 256)
    assert [cfg.layer_types.count(t) for t in ("sliding_attention",
            "compressed_sparse_attention", "heavily_compressed_attention")] == [2, 21, 20]
    assert cfg.mlp_layer_types[:4] == ["hash_moe"] * 3 + ["moe"]
    assert cfg.quantization_config["expert_dtype"] == "fp4"
    assert cfg.rope_parameters["compress"]["factor"] == 16


def test_bench_config_is_the_design_one():
    from transformers import DeepseekV4Config

    assert make_config(BENCH_V4_SMALL).to_dict() == DeepseekV4Config(**BENCH_V4_SMALL).to_dict()


def test_loader_holds_exactly_the_dequantized_checkpoint(tiny):
    with pytest.warns(PrecisionWarning, match="FP4 weights .* dequantized to bfloat16"):
        model, tokenizer, report = load_v4(tiny, LoadOptions(dtype="bfloat16"))
    assert tokenizer is None
    expected = v4_format.decode_tensors(_stored(tiny))
    got = v4_format.hf_to_official(model.state_dict())
    assert set(got) == {n for n in expected if not n.startswith("mtp.")}
    for name, tensor in got.items():
        assert torch.equal(tensor.float(), expected[name].float()), name
    assert report.precision == {"fp8": "dequantized to bfloat16", "fp4":
                                "dequantized to bfloat16", "bf16": "bfloat16 (as stored)"}
    assert report.ignored["mtp"] == sum(n.startswith("mtp.") for n in _headers(tiny))
    assert report.checkpoint["formats"]["fp4"]["tensors"] == 3 * 8 * (4 + 1)  # + MTP block
    assert report.checkpoint["bytes"] == json.loads(
        (tiny / "model.safetensors.index.json").read_text())["metadata"]["total_size"]
    assert any("x the checkpoint" in n for n in report.notes) is (
        report.resident_bytes > 1.5 * report.checkpoint["bytes"])
    assert report.to_dict()["kind"] == "deepseek_v4"


def test_float32_load_is_uniform_and_exact(tiny):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        model, _, report = load_v4(tiny, LoadOptions(dtype="float32"))
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    expected = v4_format.decode_tensors(_stored(tiny))
    got = v4_format.hf_to_official(model.state_dict())
    assert all(torch.equal(t, expected[n].float()) for n, t in got.items())
    assert report.precision["bf16"] == "float32"


def test_bf16_checkpoint_needs_no_warning(tmp_path):
    folder = build_tiny_v4(tmp_path / "bf16", TEST_V4, quantized=False, mtp=False)
    facts = inspect_checkpoint(folder)
    assert facts["quant_method"] is None and set(facts["formats"]) == {"bf16", "f32", "i64"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        model, _, report = load_v4(folder, LoadOptions(dtype="bfloat16"))
    assert report.warnings == [] and report.precision == {"bf16": "bfloat16 (as stored)"}
    expected = v4_format.decode_tensors(_stored(folder))
    got = v4_format.hf_to_official(model.state_dict())
    assert all(torch.equal(t.float(), expected[n].float()) for n, t in got.items())


def test_not_a_v4_folder_is_refused(tmp_path):
    from engine.errors import ModelLoadError

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ModelLoadError, match="not a DeepSeek-V4"):
        load_v4(tmp_path)


def test_cli_builds_a_folder(tmp_path, capsys):
    assert main([str(tmp_path / "cli"), "--config", "test", "--bf16", "--seed", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["shards"] == 6 and out["config"] == "test"
    assert "quantization_config" not in json.loads((tmp_path / "cli" / "config.json").read_text())


@pytest.mark.slow
def test_borrowed_embedded_tokenizer_fits_the_vocab(tmp_path):
    from engine.embedded import ensure_converted
    from embedded_cache import shared_cache_dir

    source = ensure_converted(shared_cache_dir())
    folder = build_tiny_v4(tmp_path / "tok", TEST_V4, tokenizer_dir=source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        model, tokenizer, _ = load_v4(folder, LoadOptions(dtype="float32"))
    text = "INT. KITCHEN - NIGHT\nMara reads the letter twice, then burns it."
    ids = tokenizer(text).input_ids
    assert max(ids) < TEST_V4["vocab_size"] and tokenizer.decode(ids) == text
    assert model.config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                           add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    out = model.generate(**tokenizer(prompt, return_tensors="pt"), max_new_tokens=4,
                         do_sample=False)
    assert out.shape[1] > len(tokenizer(prompt).input_ids)
