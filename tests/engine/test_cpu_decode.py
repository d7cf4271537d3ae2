"""The per-CPU default decode mode: the probe's choice, and that the choice runs on AVX2 only.

The AVX2 case runs in a child process with torch's and fbgemm's dispatch capped at AVX2
(ATEN_CPU_CAPABILITY, FBGEMM_ENABLE_INSTRUCTIONS), so the very kernels an AVX2-only EPYC runs
are the ones checked against exact fp32, on this machine too."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.placement.cpu_decode import CpuFeatures, default_decode_mode, probe

ROOT = Path(__file__).resolve().parents[2]
AVX2 = frozenset({"avx", "avx2", "fma", "f16c", "sse4_2"})
X86 = ("qnnpack", "onednn", "x86", "fbgemm")


@pytest.mark.parametrize("features, mode", [
    (CpuFeatures("AVX2", X86, AVX2), "fp16-cpu"),  # AVX2-only EPYC: no AVX-512, no bf16
    (CpuFeatures("AVX512", X86, AVX2 | {"avx512f", "avx512_bf16", "avx512_vnni"}), "fp16-cpu"),
    (CpuFeatures("AVX512", X86, AVX2 | {"avx512f", "amx_int8", "amx_bf16"}), "fp16-cpu"),
    (CpuFeatures("DEFAULT", X86, frozenset({"sse4_2"})), None),  # no AVX2: fbgemm cannot run
    (CpuFeatures("AVX2", X86, frozenset({"avx2", "fma"})), None),  # no F16C
    (CpuFeatures("AVX2", ("qnnpack",), AVX2), None),  # a torch build without fbgemm
    (CpuFeatures("DEFAULT", ("qnnpack",), frozenset()), None),  # an ARM machine
])
def test_default_mode_follows_the_cpu(features, mode):
    assert default_decode_mode(features) == mode


def test_vnni_is_read_from_the_flags():
    assert CpuFeatures("AVX512", X86, AVX2 | {"avx512_vnni"}).vnni
    assert not CpuFeatures("AVX2", X86, AVX2).vnni


def test_this_machine_is_probed_from_torch_and_the_kernel():
    import torch

    here = probe()
    assert here.capability == torch.backends.cpu.get_cpu_capability()
    assert here.engines == tuple(torch.backends.quantized.supported_engines)
    if Path("/proc/cpuinfo").is_file():
        assert here.flags and ("avx2" in here.flags) == (here.capability != "DEFAULT")


CHILD = """
import json, torch
from transformers import LlamaConfig, LlamaForCausalLM
from engine.placement.cpu_decode import probe, default_decode_mode
from engine.llama.fast import apply_fast_decode

torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(vocab_size=512, hidden_size=128, intermediate_size=256,
    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
    max_position_embeddings=256)).eval()
features = probe()
mode = default_decode_mode(features)

def run(fast, ids, forced):
    cache = fast.new_cache(len(ids) + len(forced))
    with torch.inference_mode():
        logits, out = fast.prefill(torch.tensor(ids), cache), []
        for token in forced:
            out.append(logits.clone())
            logits = fast.decode(torch.tensor([token]), cache)
    return torch.stack(out)

ids = list(range(3, 40))
exact = apply_fast_decode(model, None)
ref = run(exact, ids, [0] * 24)
forced = [int(x) for x in ref.argmax(-1)]  # exact greedy tokens, fed to both
ref = run(exact, ids, forced)
got = run(apply_fast_decode(model, mode), ids, forced)
print(json.dumps({"capability": features.capability, "mode": mode,
                  "diff": float((got - ref).abs().max()), "scale": float(ref.abs().max()),
                  "agree": int((got.argmax(-1) == ref.argmax(-1)).sum()), "steps": len(forced)}))
"""


@pytest.mark.slow
def test_the_default_mode_runs_on_avx2_kernels_close_to_fp32():
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["capability"] == "AVX2"
    if "fbgemm" not in probe().engines:
        pytest.skip("this torch build has no fbgemm: the default is exact fp32")
    assert result["mode"] == "fp16-cpu"
    assert result["diff"] < 1e-2 * result["scale"]
    assert result["agree"] >= result["steps"] - 1
