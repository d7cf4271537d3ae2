"""Computed facts as a writer meets them: `python -m workbench synthesize --task coverage --json`
(a real subprocess, the embedded default model, a real screenplay) returns `facts` and saves
them at the head of the answer; `export-artifact` writes them as md and csv. The pacing
markers' srt/edl export is checked on a stored artifact with the real facts of a NASA log."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from embedded_cache import shared_cache_dir
from synthesis_docs import CYBER_BOB, MR3_ATG

from workbench.jobs.exports import export
from workbench.synthesis import citations as cite
from workbench.synthesis.facts import ANSWER_HEADING, HEADING, facts_for
from workbench.synthesis.runner import SynthesisRequest, load_sources
from workbench.synthesis.templates import get_template

ROOT = Path(__file__).resolve().parents[3]


def _cli(data_dir: Path, *args: str, json_out: bool = True) -> subprocess.CompletedProcess:
    environ = {**os.environ, "LONGHAND_CACHE_DIR": str(shared_cache_dir())}
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                           *args, *(["--json"] if json_out else [])], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_synthesize_json_carries_the_facts_and_exports_them(tmp_path, testdocs):
    data = tmp_path / "data"
    for args in (["new-project", "cyber"], ["import", "cyber", str(testdocs / CYBER_BOB)]):
        assert _cli(data, *args).returncode == 0
    done = _cli(data, "synthesize", "cyber", "--task", "coverage", "--max-new-tokens", "8")
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    facts = out["facts"]
    assert facts["template"] == "coverage"
    chars = next(t for t in facts["tables"] if t["name"] == "characters")
    assert chars["rows"][0][:2] == ["BOB", 16]
    scenes = next(t for t in facts["tables"] if t["name"] == "scenes")
    assert [r[0] for r in scenes["rows"]] == ["[Sc. 1]", "[Sc. 2]", "[Sc. 3]"]
    text = out["text"]
    assert text.startswith(HEADING) and f"\n{ANSWER_HEADING}\n" in text
    assert "| BOB | 16 | 2 | [Sc. 1] |" in text
    assert text.index(ANSWER_HEADING) + len(ANSWER_HEADING) + 2 == facts["answer_start"]
    for c in out["citations"]:  # the model's citations only; the facts are not counted
        assert c["anchor"] and isinstance(c["verified"], bool)

    art = str(out["artifact_id"])
    md = _cli(data, "export-artifact", art, "--format", "md", json_out=False)
    assert md.returncode == 0 and HEADING in md.stdout and "### Scene list" in md.stdout
    got = _cli(data, "export-artifact", art, "--format", "csv", json_out=False)
    assert got.returncode == 0, got.stderr
    rows = list(csv.reader(io.StringIO(got.stdout)))
    at = rows.index(["Characters by dialogue blocks"])
    assert rows[at + 1] == ["character", "dialogue blocks", "scenes", "first scene"]
    assert rows[at + 2] == ["BOB", "16", "2", "[Sc. 1]"]
    srt = _cli(data, "export-artifact", art, "--format", "srt", json_out=False)
    assert srt.returncode == 2 and srt.stderr.startswith("error: ")
    assert "cut points" in srt.stderr


def test_pacing_markers_export_as_srt_and_edl(wb, testdocs):
    (res,) = wb.import_files("p", [testdocs / MR3_ATG])
    sources = load_sources(wb.library, SynthesisRequest("p", "pacing"), get_template("pacing"))
    facts = facts_for("pacing", sources)
    head = facts.to_markdown() + f"\n{ANSWER_HEADING}\n\n"
    answer = "## Notes\n- [00:00:02] keep the lift-off call"
    sections = {res.document.id: list(sources[0].sections)}
    assert all(c.verified for c in cite.check(head, sections))
    art = wb.jobs.store.save_artifact(
        wb.project("p").id, None, task="pacing", title="Interview pacing notes",
        backend="local", model="m", params={}, document_ids=[res.document.id],
        strategy="whole", budget={}, text=head + answer, thinking="", prompt_tokens=1,
        completion_tokens=1, seconds=0.1, cost={}, citations=[],
        extra={"facts": {**facts.to_json(), "answer_start": len(head)}})
    srt = export(art, "srt")
    blocks = srt.strip().split("\n\n")
    assert len(blocks) == 1 + len(facts.markers)  # the model's note and every cut point
    assert blocks[0] == "1\n00:00:02,000 --> 00:00:06,000\nkeep the lift-off call"
    longest = max(facts.markers, key=lambda m: m.end_s - m.start_s)
    assert longest.anchor == "00:12:40"  # the longest radio silence of the flight
    assert ("--> 00:12:40,000\ncomputed: cut the 1 min 4 s silence before [00:12:40]"
            in srt)
    edl = export(art, "edl")
    assert edl.startswith("TITLE: Interview pacing notes\nFCM: NON-DROP FRAME\n")
    assert "00:12:40:00 00:11:36:" in edl  # event ends at the cue, record in starts again
    assert edl.count("* COMMENT: ") == len(blocks)
    csv_text = export(art, "csv")
    assert "Suggested cut points\nat,in (s),out (s),why\n" in csv_text
