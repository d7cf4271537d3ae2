"""A large import stays in bounded memory: a ~20 MB generated transcript (the real Apollo 11
TEC cues, a fresh stamp each) imported through `Workbench.import_files` by the import bench
(bench/import_memory.py), which measures the peak RSS of a fresh subprocess.

Before the fix the import held about 155 bytes per byte of file (a 40 MB file took 6.2 GB; the
whole-text encode of the tokenizer alone was most of it). The bound is generous on purpose:
memory, never time, and about twice what is measured now, so allocator differences between
machines do not make it flaky.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from embedded_cache import shared_cache_dir

ROOT = Path(__file__).resolve().parents[2]
MAX_IMPORT_OVER_FILE = 30  # (peak RSS - RSS with the tokenizer loaded) / file size


@pytest.mark.slow
def test_importing_a_20_mb_transcript_stays_in_bounded_memory():
    proc = subprocess.run(
        [sys.executable, "bench/import_memory.py", "--sizes", "20", "--kinds", "transcript",
         "--cache-dir", str(shared_cache_dir())],
        capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    assert row.get("error") is None, row
    assert row["bench"] == "import-memory" and row["case"] == "transcript-20mb"
    assert row["file_mb"] >= 19.5 and row["tokens"] > 4_000_000
    assert row["import_over_file"] <= MAX_IMPORT_OVER_FILE, row
