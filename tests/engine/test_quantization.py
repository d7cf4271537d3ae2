"""bitsandbytes on CPU: what it quantizes, what it cannot (V4's experts), and memory it saves."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from engine.placement.options import LoadOptions
from engine.deepseek_v4.reference import PrecisionWarning, load_v4
from engine.placement.quantization import apply_quantization, quantization_report
from engine.deepseek_v4.tiny import TEST_V4, build_tiny_v4

ROOT = Path(__file__).resolve().parents[2]


def test_seam_adds_a_bitsandbytes_config():
    kwargs = apply_quantization({"dtype": torch.float32},
                                LoadOptions(quantization="nf4", dtype="float32"))
    config = kwargs["quantization_config"]
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert kwargs["device_map"] in ("cpu", "cuda:0")
    assert apply_quantization({}, LoadOptions()) == {}
    assert apply_quantization({}, LoadOptions(quantization="int8"))[
        "quantization_config"].load_in_8bit


def _by_class(report, key):
    return {entry["class"] for entry in report[key]}


@pytest.mark.slow
@pytest.mark.parametrize("quantized_checkpoint, mode", [(False, "nf4"), (True, "int8")])
def test_v4_experts_stay_unquantized_and_the_user_is_told(tmp_path, quantized_checkpoint,
                                                           mode):
    folder = build_tiny_v4(tmp_path / "v4", TEST_V4, quantized=quantized_checkpoint)
    with pytest.warns(PrecisionWarning, match="DeepseekV4Experts") as caught:
        model, _, report = load_v4(folder, LoadOptions(dtype="float32", quantization=mode))
    qreport = report.quantization_report
    assert qreport["formats"] == [mode]
    assert {"Linear4bit" if mode == "nf4" else "Linear8bitLt"} == _by_class(qreport, "quantized")
    quantized = {e["module"] for e in qreport["quantized"]}
    assert "model.layers.0.self_attn.q_a_proj" in quantized
    assert "model.layers.0.mlp.shared_experts.down_proj" in quantized
    assert "lm_head" not in quantized
    assert "model.layers.1.self_attn.compressor.kv_proj" not in quantized  # kept like the release
    gaps = {e["module"]: e for e in qreport["unquantized"]}
    experts = gaps["model.layers.3.mlp.experts"]
    assert experts["class"] == "DeepseekV4Experts" and experts["reason"].startswith("3-D")
    assert experts["params"] == 8 * 3 * TEST_V4["hidden_size"] * TEST_V4["moe_intermediate_size"]
    assert gaps["model.layers.0.self_attn.o_a_proj"]["class"] == "DeepseekV4GroupedLinear"
    assert qreport["quantized_fraction"] < 0.5  # experts dominate even a tiny V4
    assert any("DeepseekV4GroupedLinear" in str(w.message) for w in caught)
    assert report.warnings and "DeepseekV4Experts" in report.warnings[-1]
    ids = torch.randint(3, 1000, (1, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(ids).logits
    assert torch.isfinite(logits).all()


_MEASURE = r"""
import ctypes, gc, json, sys, warnings
import torch
from transformers import AutoModelForCausalLM
sys.path.insert(0, sys.argv[3])
from engine.loading import from_pretrained_kwargs
from engine.placement.options import LoadOptions
from engine.placement.quantization import quantization_report
warnings.simplefilter("ignore")
mode = None if sys.argv[2] == "none" else sys.argv[2]

def status():  # MiB; anonymous vs file-backed (the mmapped safetensors) resident pages
    rows = [line.split(":") for line in open("/proc/self/status")]
    return {k: int(v.split()[0]) / 1024 for k, v in rows if k in ("VmRSS", "RssAnon", "RssFile")}

gc.collect(); before = status()
kwargs = from_pretrained_kwargs(LoadOptions(dtype="float32", quantization=mode))
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], **kwargs)
with torch.no_grad():
    model(torch.arange(1, 17)[None])  # touch every weight (mmapped tensors load lazily)
gc.collect(); ctypes.CDLL("libc.so.6").malloc_trim(0)
after = status()
linear = model.model.layers[0].mlp.gate_proj
report = quantization_report(model)
print(json.dumps({**{k: round(after[k] - before[k], 1) for k in after},
                  "footprint": round(model.get_memory_footprint() / 2**20, 1),
                  "gate_proj_bytes": sum(p.numel() * p.element_size()
                                         for p in linear.parameters()),
                  "formats": report["formats"],
                  "quantized_fraction": report["quantized_fraction"]}))
"""


@pytest.mark.slow
def test_bitsandbytes_shrinks_resident_memory(tmp_path):
    """A random ~88M-parameter llama, loaded in fresh processes with and without bitsandbytes."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=8192, hidden_size=768, intermediate_size=2048,
                         num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=4,
                         tie_word_embeddings=False)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "llama")
    results = {}
    for mode in ("none", "nf4", "int8"):
        done = subprocess.run([sys.executable, "-c", _MEASURE, str(tmp_path / "llama"), mode,
                               str(ROOT)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(results, indent=1))
    full, nf4, int8 = results["none"], results["nf4"], results["int8"]
    assert nf4["formats"] == ["nf4"] and int8["formats"] == ["int8"]
    assert nf4["gate_proj_bytes"] * 7 < full["gate_proj_bytes"]  # 4 bits + absmax vs 32 bits
    assert int8["gate_proj_bytes"] * 3.5 < full["gate_proj_bytes"]
    assert nf4["footprint"] < 0.3 * full["footprint"] and int8["footprint"] < 0.4 * full[
        "footprint"]
    # Unquantized fp32 weights stay file-backed (mmapped safetensors, RssFile); quantized ones
    # are anonymous memory of about their footprint. transformers keeps the checkpoint mapped
    # either way, so total RSS does not drop on CPU: the anonymous growth is the honest figure.
    for quantized in (nf4, int8):
        grown = quantized["RssAnon"] - full["RssAnon"]
        assert grown < 0.5 * full["footprint"], results
    assert full["quantized_fraction"] == 0.0 and nf4["quantized_fraction"] > 0.7
