"""The comparison commands' user errors through the real CLI: `error: ...`, exit 2."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_unknown_comparison_and_too_few_models_are_clear_errors(data_dir):
    assert cli(data_dir, "new-project", "p").returncode == 0
    out = cli(data_dir, "vote", "7", "--winner", "A")
    assert out.returncode == 2 and out.stderr.strip() == "error: no comparison with id 7"
    out = cli(data_dir, "compare-blind", "7", "--json")
    assert out.returncode == 2 and "no comparison with id 7" in out.stderr
    out = cli(data_dir, "compare", "p", "--prompt", "x", "--models", "a")
    assert out.returncode == 2 and "at least two different models" in out.stderr
    out = cli(data_dir, "leaderboard", "nope")
    assert out.returncode == 2 and "nope" in out.stderr
    out = cli(data_dir, "leaderboard", "p", "--json")
    assert out.returncode == 0 and '"rows": []' in out.stdout
