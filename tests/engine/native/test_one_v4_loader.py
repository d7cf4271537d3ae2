"""The one V4 loader: `load()` of an official FP8/FP4 folder under `--max-memory` at half its
bytes holds FP8/FP4 natively, runs the fused kernels, keeps the experts the plan puts on disk
memory-mapped, answers exactly as without the cap, and is the plan `python -m engine plan`
prints. Real subprocesses for the CLI checks and for resident-set measurements."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.deepseek_v4.expert_offload import OffloadedExperts
from engine.deepseek_v4.model import FastV4Model
from engine.deepseek_v4.tiny import TEST_V4, build_tiny_v4
from engine.loading import load
from engine.placement.options import LoadOptions

from embedded_cache import shared_cache_dir

ROOT = Path(__file__).resolve().parents[3]
# Experts outweigh the dense part, as in the release (~90% of V4-Flash's bytes).
CONFIG = dict(TEST_V4, n_routed_experts=32)
SCENES = "screenplays/vilcans__screenplain/scene-numbers.fountain"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from engine.embedded import ensure_converted

    return build_tiny_v4(tmp_path_factory.mktemp("one") / "v4", CONFIG, seed=0,
                         tokenizer_dir=ensure_converted(shared_cache_dir()))


@pytest.fixture(scope="module")
def loads(folder, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    full = load(str(folder), cache)
    cap = full.report.resident_bytes // 2
    half = load(str(folder), cache, LoadOptions(max_memory={"cpu": cap}))
    return full, half, cap


def _greedy(model, ids, steps=16):
    tokens, logits = [], []
    with torch.no_grad():
        out = model(ids, use_cache=True)
        cache, last = out.past_key_values, out.logits[:, -1]
        for _ in range(steps):
            token = last.argmax(-1, keepdim=True)
            tokens.append(token.item())
            logits.append(last)
            last = model(token, past_key_values=cache).logits[:, -1]
    return tokens, torch.cat(logits)


def test_half_the_bytes_offloads_experts_on_fused_native_kernels(loads):
    full, half, cap = loads
    for loaded in (full, half):
        report = loaded.report
        assert report.kernels == "fused" and isinstance(loaded.model.model, FastV4Model)
        assert report.precision == {"fp8": "native fp8", "fp4": "native fp4",
                                    "bf16": "float32"}
    assert full.report.expert_placement["counts"] == {"device": 32 * 4, "host": 0, "disk": 0}
    plan = half.report.expert_placement
    counts = plan["counts"]
    assert counts["device"] > 0 and counts["disk"] > 0 and counts["device"] + counts["disk"] \
        == 32 * 4
    assert set(half.report.offloaded) == {"disk"} and len(half.report.offloaded["disk"]) == \
        counts["disk"]
    assert half.report.device_placement["disk"] == counts["disk"] * plan["expert_bytes"]
    # the load's own byte accounting: within the cap and within 10% of the planner's figure
    assert half.report.resident_bytes <= cap
    assert abs(half.report.resident_bytes - plan["resident_total"]) <= 0.10 * plan[
        "resident_total"]
    placed = [m for m in half.model.modules() if isinstance(m, OffloadedExperts)]
    assert sum(len(m.disk_store) for m in placed) == counts["disk"]
    assert all(not t.is_meta for m in placed for views in m.disk_store.values()
               for t in views.values())


@pytest.mark.slow
def test_capped_model_answers_exactly_as_the_uncapped_one(loads):
    full, half, _ = loads
    ids = torch.randint(3, CONFIG["vocab_size"], (1, 12),
                        generator=torch.Generator().manual_seed(3))
    counters = half.model.expert_offload
    counters.reset()
    want_tokens, want = _greedy(full.model, ids)
    got_tokens, got = _greedy(half.model, ids)
    assert got_tokens == want_tokens  # same kernels, same shapes: the cap moves bytes only
    assert torch.allclose(got, want, atol=1e-5, rtol=0)
    assert counters.tokens == 12 + 16 and counters.host_hits > 0
    assert counters.bytes_disk == counters.host_hits * half.report.expert_placement[
        "expert_bytes"]  # only routed experts are read from disk


def _engine(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_engine_plan_prints_the_placement_the_loader_follows(folder, loads, capsys):
    _, half, cap = loads
    out = _engine("plan", str(folder), "--max-memory", f"cpu={cap}", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["load_plan"] == half.report.expert_placement
    from engine.__main__ import main

    assert main(["plan", str(folder), "--max-memory", f"cpu={cap}"]) == 0
    counts = half.report.expert_placement["counts"]
    assert f"experts: {counts['device']} on cpu, 0 in host RAM, {counts['disk']} on disk" \
        in capsys.readouterr().out
    bad = _engine("plan", str(folder), "--max-memory", "cpu8GiB")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --max-memory wants")


RSS_SCRIPT = """
import json, sys, torch, transformers.models.deepseek_v4.modeling_deepseek_v4
from engine.loading import load
from engine.placement.options import LoadOptions, process_rss
from engine.deepseek_v4.tiny import make_config, TEST_V4
make_config(TEST_V4)
cap = json.loads(sys.argv[2])
warm = load(sys.argv[1], sys.argv[3], LoadOptions(max_memory=cap))  # imports, first-use caches
before = process_rss()
loaded = load(sys.argv[1], sys.argv[3], LoadOptions(max_memory=cap))  # both stay loaded
print(json.dumps({"delta": process_rss() - before, "plan": loaded.report.expert_placement,
                  "resident": loaded.report.resident_bytes}))
"""


def _rss(folder, cap, cache) -> dict:
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(folder), json.dumps(cap),
                          str(cache)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_resident_set_grows_by_the_planned_bytes_not_the_disk_experts(folder, loads, tmp_path):
    _, _, cap = loads
    full, half = _rss(folder, None, tmp_path), _rss(folder, {"cpu": cap}, tmp_path)
    disk = half["plan"]["disk_bytes"]
    assert disk > 0
    # what a second load adds to the process (RSS delta, the first load kept alive) tracks
    # the plan: the experts left on disk are mapped, not read
    assert half["delta"] <= 1.10 * half["plan"]["resident_total"] + 16 * 2**20  # skeleton, objects
    assert full["delta"] - half["delta"] >= 0.5 * disk


@pytest.mark.slow
def test_synthesize_json_shows_fused_native_kernels_and_offloaded_experts(folder, loads,
                                                                         tmp_path, testdocs):
    _, _, cap = loads
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
    env["LONGHAND_CACHE_DIR"] = str(shared_cache_dir())
    data = tmp_path / "data"

    def cli(*args):
        out = subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data),
                              *args, "--json"], cwd=ROOT, capture_output=True, text=True,
                             timeout=600, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout)

    cli("new-project", "P")
    cli("import", "P", str(testdocs / SCENES))
    out = cli("synthesize", "P", "--prompt", "Who is in the first scene?", "--model",
              str(folder), "--max-memory", f"cpu={cap}", "--max-new-tokens", "4")
    engine = out["engine"]
    assert engine["kernels"] == "fused"
    assert engine["precision"]["fp8"] == "native fp8"
    assert engine["precision"]["fp4"] == "native fp4"
    placement = engine["placement"]
    assert placement["max_memory"] == {"cpu": str(cap)}
    assert placement["offloaded"]["disk"] > 0 and placement["experts"]["disk"] > 0
    assert placement["experts"]["device"] > 0 and "disk" in placement["devices"]


def test_engine_tab_rows_show_kernels_precision_and_experts(loads):
    from engine.backends.local import LocalBackend
    from workbench import engine_control

    _, half, _ = loads
    backend = LocalBackend(half.model, half.tokenizer, "tiny-v4", 4096, report=half.report)
    rows = dict(engine_control.status_rows(backend))
    assert rows["Kernels"] == "fused"
    assert rows["Precision (fp8)"] == "native fp8" and rows["Precision (fp4)"] == "native fp4"
    counts = half.report.expert_placement["counts"]
    assert rows["Routed experts"].startswith(f"{counts['device']} on cpu")
    assert f"{counts['disk']} on disk" in rows["Routed experts"]


def test_reference_v4_is_asked_for_by_flag_env_or_options(folder, tmp_path):
    import warnings

    from engine.deepseek_v4.reference import PrecisionWarning
    from workbench import cli
    from workbench.config import Settings
    from workbench.context import load_options
    from workbench.placement_flags import placement_values

    args = cli.build_parser().parse_args(["synthesize", "P", "--prompt", "x", "--reference-v4"])
    assert placement_values(args)["reference_v4"] is True
    assert placement_values(cli.build_parser().parse_args(["synthesize", "P", "--prompt", "x"]))[
        "reference_v4"] is None
    assert load_options(Settings.from_sources(placement_values(args), env={})).kernels is False
    assert load_options(Settings.from_sources(
        {}, env={"LONGHAND_REFERENCE_V4": "1"})).kernels is False
    assert load_options(Settings.from_sources({}, env={})).kernels is True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        reference = load(str(folder), tmp_path, LoadOptions(kernels=False)).report
    assert reference.kernels == "reference" and not reference.expert_placement
    assert reference.precision["fp8"] == "dequantized to float32"
