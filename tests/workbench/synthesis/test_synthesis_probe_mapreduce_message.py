"""A map-reduce the user asked for, on documents that fit whole, says it was requested -- with
the figures -- instead of claiming the documents did not fit (issue 13: "5,840 of 8,192").

Driven where a user reaches it: `python -m workbench synthesize --map-reduce --json` on the
embedded default, with small token counts so the run stays short.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SCRIPT = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"


def test_a_requested_map_reduce_says_so_with_its_figures(data_dir, testdocs):
    cli = [sys.executable, "-m", "workbench", "--data-dir", str(data_dir)]
    subprocess.run(cli + ["new-project", "p"], check=True, capture_output=True)
    subprocess.run(cli + ["import", "p", str(testdocs / SCRIPT)], check=True,
                   capture_output=True)
    out = subprocess.run(cli + ["synthesize", "p", "--task", "pacing", "--map-reduce",
                                "--max-new-tokens", "16", "--map-tokens", "8",
                                "--chunk-tokens", "1400", "--json"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    budget = result["budget"]
    needed = budget["prompt_tokens"] + budget["reserved_output"]
    assert result["strategy"] == "map-reduce" and needed <= budget["window"]  # it fit whole
    text = result["text"]
    assert "did not fit" not in text
    head = text.split("*\n\n", 1)[0]
    assert head.startswith("*Map-reduced: map-reduce was requested")
    assert (f"although the documents fit the model's window whole ({needed:,} tokens needed, "
            f"{budget['window']:,} in the window)") in head
    parts = int(re.search(r"notes on (\d+) parts", head).group(1))
    assert parts >= 2
