"""`python -m workbench synthesize --json` as a writer runs it (a real subprocess, the embedded
default model, a real screenplay): its citations hold the passages matched to the answer's
sentences, marked origin "matched" apart from what the model cited, each verified."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from embedded_cache import shared_cache_dir
from synthesis_docs import CYBER_BOB

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
# the embedded model's answer to it retells its first sentence with names from the script
QUESTION = "Describe Cyber Bob and Margaret in three full sentences."


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LONGHAND_CACHE_DIR": str(shared_cache_dir())}
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                           *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)


def test_synthesize_json_carries_matched_citations(tmp_path, testdocs):
    data = tmp_path / "data"
    for args in (("new-project", "cyber"), ("import", "cyber", str(testdocs / CYBER_BOB))):
        done = _cli(data, *args)
        assert done.returncode == 0, done.stderr[-2000:]
    done = _cli(data, "synthesize", "cyber", "--prompt",
                QUESTION, "--max-new-tokens", "120", "--json")
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: an unverified model citation
    assert "sentences matched to passages" in _cli(
        data, "synthesize", "cyber", "--prompt", QUESTION, "--max-new-tokens", "8").stdout
    out = json.loads(done.stdout)
    assert {c["origin"] for c in out["citations"]} <= {"model", "matched"}
    matched = [c for c in out["citations"] if c["origin"] == "matched"]
    assert matched, out["text"]
    for c in matched:
        assert c["sentence"] and c["sentence"] in out["text"]
        assert c["verified"] is True and c["document_id"] and c["anchor"].startswith("Sc. ")
