"""`python -m engine.bench prefill` end to end on a short sequence: the promise figures in
bench/RESULTS_V4.md come from this code, so it must keep running and keep comparing like with
like (both sides warmed up, timed the same number of times, logits compared)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_prefill_bench_times_both_sides_alike_and_compares_logits():
    done = subprocess.run(
        [sys.executable, "-m", "engine.bench", "prefill", "--seq", "300", "--reference",
         "--threads", "1", "--repeat", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    assert row["bench"] == "prefill" and row["case"] == "seq=300"
    assert len(row["ours_runs"]) == len(row["reference_runs"]) == 2
    assert sorted(row["ours_runs"])[0] <= row["ours_s"] <= sorted(row["ours_runs"])[-1]
    assert row["speedup"] == round(row["reference_s"] / row["ours_s"], 3)
    assert row["max_abs_diff"] <= 1e-4  # the fast path still computes the reference's logits
    assert row["reference_allocator"] == "default"
    assert 0 < row["ours_peak_gb"] < 4 and 0 < row["reference_peak_gb"] < 4
