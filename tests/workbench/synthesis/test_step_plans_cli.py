"""Issue 15's proof on the embedded default, through the CLI a writer uses: each template runs
as short steps with anchors attached by construction, and the answers are usable.

Real subprocesses of `python -m workbench`, real screenplays and a real NASA transcript from
../shared/testdocs, the embedded SmolLM2-135M with default settings (small max-new-tokens per
step to keep CI time down).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from embedded_cache import shared_cache_dir
from synthesis_docs import CYBER_BOB, MR3_ATG

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
MARKUP = ("<document", "</document", "TASK:", "TASK (", "OUTPUT CONTRACT", "<|im_start|>")
ADDED_SCENE = """

EXT. ROOFTOP GARDEN--NIGHT

Bob climbs onto the roof. The city hums below him. He sets the tiny traffic light down among
the tomato plants and waits for it to blink.

BOB
If you can hear me, blink twice.

The light blinks twice. Bob grins.
"""


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LONGHAND_CACHE_DIR": str(shared_cache_dir())}
    done = subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                           *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def cli_json(data_dir: Path, *args: str) -> dict:
    return json.loads(cli(data_dir, *args, "--json").stdout)


def imported(data_dir: Path, *files: Path) -> list[int]:
    cli(data_dir, "new-project", "p")
    return [d["id"] for d in cli_json(data_dir, "import", "p", *map(str, files))]


def model_part(text: str) -> str:
    """What the model wrote: the saved text after the computed facts (synthesis/facts/), whose
    tables legitimately repeat lines such as `|---|---|`."""
    return text.split("## Answer (written by the model)", 1)[-1]


def assert_clean(text: str) -> None:
    for mark in MARKUP:
        assert mark not in text, text
    lines = [ln.strip() for ln in model_part(text).splitlines() if ln.strip()]
    assert max(lines.count(ln) for ln in lines) <= 2, text


def verified(out: dict, pattern: str) -> set[str]:
    return {c["anchor"] for c in out["citations"]
            if c["verified"] and c.get("origin", "model") == "model"
            and re.fullmatch(pattern, c["anchor"])}


def test_coverage_of_a_screenplay_in_steps(tmp_path, testdocs):
    data = tmp_path / "data"
    imported(data, testdocs / CYBER_BOB)
    run = cli(data, "synthesize", "p", "--task", "coverage", "--max-new-tokens", "96",
              "--json")
    assert "plan: 6 short steps (a small model" in run.stderr  # shown before it ran
    assert run.stderr.index("plan:") < run.stderr.index("step 1 of 6")
    out = json.loads(run.stdout)
    assert out["plan"]["kind"] == "steps" and out["plan"]["steps"] == 6
    assert out["strategy"] == "whole"
    text = out["text"]
    assert len(text.split()) >= 250, text
    assert verified(out, r"Sc\. \d+") >= {"Sc. 1", "Sc. 2", "Sc. 3"}, out["citations"]
    assert_clean(text)
    for heading in ("## Premise", "## Structure", "## Dialogue", "## Verdict"):
        assert heading in text
    assert re.search(r"^- \[Sc\. 2\] EXT\. SUBURBAN TRAFFIC INTERSECTION--DAY: \w", text, re.M)


def test_draft_comparison_names_the_added_scene(tmp_path, testdocs):
    data = tmp_path / "data"
    script = tmp_path / "cyber_bob.fountain"
    original = (testdocs / CYBER_BOB).read_text(encoding="utf-8")
    script.write_text(original, encoding="utf-8")
    (doc,) = imported(data, script)
    script.write_text(original.rstrip() + "\n" + ADDED_SCENE, encoding="utf-8")
    cli(data, "import", "p", str(script))
    show = cli_json(data, "show", "p")
    assert [d["version"] for d in show["documents"]] == [2]
    out = cli_json(data, "synthesize", "p", "--task", "compare_drafts", "--max-new-tokens",
                   "60")
    assert out["plan"]["kind"] == "steps"
    text = out["text"]
    line = next(ln for ln in model_part(text).splitlines() if "ROOFTOP GARDEN" in ln)
    assert line.startswith("- [Sc. 4] (v2) Added: EXT. ROOFTOP GARDEN--NIGHT."), text
    assert "1 scene(s) added" in text
    assert "Sc. 4" in verified(out, r"Sc\. \d+")
    assert_clean(text)


def test_pacing_of_a_fifteen_minute_transcript_cites_timecodes(tmp_path, testdocs):
    data = tmp_path / "data"
    imported(data, testdocs / MR3_ATG)
    out = cli_json(data, "synthesize", "p", "--task", "pacing", "--max-new-tokens", "56")
    assert out["plan"]["kind"] == "steps"
    text = out["text"]
    stamps = verified(out, r"\d\d:\d\d:\d\d")
    assert len(stamps) >= 3, (text, out["citations"])
    answer = model_part(text)
    assert "## Suggested cuts" in answer and answer.count("## Suggested cuts") == 1
    cuts = answer.split("## Suggested cuts", 1)[1]
    assert re.search(r"^- \[\d\d:\d\d:\d\d\] Slow stretch: \d+ wpm for the next \d+ min, "
                     r"against 49 overall\. The editor should \w", cuts, re.M), cuts
    assert_clean(text)
