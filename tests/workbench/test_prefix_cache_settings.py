"""The prefix cache's settings: on by default under the data dir, LONGHAND_PREFIX_CACHE*."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_prefix_cache_settings_come_from_the_environment(tmp_path):
    from workbench.config import Settings

    default = Settings.from_sources({"data_dir": tmp_path}, env={})
    assert default.prefix_cache_path == tmp_path / "prefix-cache"
    assert default.prefix_cache_bytes == 8 << 30
    chosen = Settings.from_sources({"data_dir": tmp_path}, env={
        "LONGHAND_PREFIX_CACHE_DIR": str(tmp_path / "kv"), "LONGHAND_PREFIX_CACHE_GB": "0.5"})
    assert chosen.prefix_cache_options() == {"prefix_cache_dir": tmp_path / "kv",
                                             "prefix_cache_bytes": 1 << 29}
    off = Settings.from_sources({}, env={"LONGHAND_PREFIX_CACHE": "0"})
    assert off.prefix_cache_path is None
    assert off.prefix_cache_options()["prefix_cache_dir"] is None
    done = subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(tmp_path),
                           "projects"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LONGHAND_PREFIX_CACHE_GB": "lots"})
    assert done.returncode == 2
    assert "error: prefix cache size must be a number of gigabytes" in done.stderr
