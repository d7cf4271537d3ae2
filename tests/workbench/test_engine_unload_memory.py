"""Unloading the model gives its memory back: five load / chat / unload cycles of the embedded
default through the Engine tab's own code (workbench/engine_control.py), driven by
bench/unload_memory.py in a fresh process.

Seen before the fix: the app's RSS went 0.7 -> 1.8 -> 2.0 -> 2.1 GiB over Engine-tab cycles; in
this probe the second load stood at 0.75 GiB against 0.50 for the first, because glibc kept the
freed weights and generation buffers (engine/allocator.py raises its trim threshold to 1 GB).
The bound (every load within 10% of the first) is on memory, never on time.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from embedded_cache import shared_cache_dir

ROOT = Path(__file__).resolve().parents[2]
CYCLES = 5


@pytest.mark.slow
def test_repeated_load_and_unload_keeps_memory_bounded():
    proc = subprocess.run(
        [sys.executable, "bench/unload_memory.py", "--cycles", str(CYCLES),
         "--cache-dir", str(shared_cache_dir())],
        capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["case"] for r in rows] == [f"cycle-{i + 1}" for i in range(CYCLES)]
    assert all(r["answered"] for r in rows)
    loaded = [r["rss_loaded_gb"] for r in rows]
    assert all(later <= loaded[0] * 1.10 for later in loaded[1:]), loaded
    # and once unloaded, the process holds less than with the model loaded
    assert rows[-1]["rss_unloaded_gb"] < loaded[0], rows
