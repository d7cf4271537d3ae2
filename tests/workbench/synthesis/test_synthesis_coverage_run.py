"""Coverage of a real screenplay on the embedded default: whole-in-context (asked for: the
embedded default runs short steps by default, test_step_plans_cli.py), streamed through a
background job, saved as an artifact whose citations resolve to real scenes."""
from __future__ import annotations

import pytest
from synthesis_docs import CYBER_BOB

from workbench.jobs.exports import export

pytestmark = pytest.mark.slow


def test_coverage_runs_whole_and_cites_real_scenes(wb, testdocs, backend):
    (res,) = wb.import_files("p", [testdocs / CYBER_BOB])
    doc_id = res.document.id
    wb.use_backend(backend)
    seen = []
    answer = wb.synthesize("p", "coverage", documents=[doc_id], max_new_tokens=48,
                           progress=seen.append, plan="whole")
    phases = [p.phase for p in seen]
    assert phases.index("prefill") < phases.index("generating") < phases.index("done")
    streamed = "".join(p.delta for p in seen)
    assert streamed.strip() and answer.text.endswith(streamed.strip())
    assert answer.text.startswith("## Facts (computed by Longhand)")
    assert answer.facts.table("scenes").rows[0][0] == "[Sc. 1]"

    art = answer.artifact
    assert art.strategy == "whole" and art.task == "coverage"
    assert art.budget["fits"] and art.budget["window"] == 8192
    assert art.prompt_tokens == art.budget["prompt_tokens"] and 0 < art.completion_tokens <= 48
    assert art.model == backend.model and art.params["max_new_tokens"] == 48
    assert set(art.cost["usd"]) >= {"DeepSeek V4-Flash", "Claude Opus 4.7"}

    scenes = [c for c in answer.verified if c.anchor.startswith("Sc. ")]
    assert scenes, answer.text
    for c in answer.verified:
        sec = wb.library.section_by_anchor(doc_id, c.anchor)
        assert sec is not None and sec.id == c.section_id and c.document_id == doc_id
    for c in answer.unverified:
        assert wb.library.section_by_anchor(doc_id, c.anchor) is None or c.quote

    listed = wb.artifacts("p")
    assert [a.id for a in listed] == [art.id]
    md = export(art, "md")
    assert md.startswith("# Screenplay coverage") and "| anchor | document | verified |" in md
    assert wb.job_status(answer.job.id).status == "done"


def test_a_background_job_is_cancelled_from_another_connection(wb, testdocs, backend):
    import time

    from workbench.library.db import create_db_engine
    from workbench.library.jobs_store import JobStore

    wb.import_files("p", [testdocs / CYBER_BOB])
    wb.use_backend(backend)
    job = wb.synthesize("p", "coverage", max_new_tokens=400, background=True, plan="whole")
    other = JobStore(create_db_engine(wb.library.db_path))
    # Cancel while the job is still reading the screenplay (a 2K-token prefill takes seconds):
    # waiting for "generating" raced a fast machine, where the small model can finish first.
    deadline = time.monotonic() + 300
    while other.job(job.id).status != "running":
        assert time.monotonic() < deadline and other.job(job.id).status == "queued"
        time.sleep(0.05)
    other.request_cancel(job.id)
    final = wb.jobs.wait(job.id, timeout=60)
    assert final.status == "cancelled" and final.artifact_id is None
    assert wb.artifacts("p") == [] and "final" not in other.steps(job.id)
