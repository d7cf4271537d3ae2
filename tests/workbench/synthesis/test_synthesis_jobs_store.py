"""Job rows, steps and artifacts in a real migrated SQLite file; cancel across connections."""
from __future__ import annotations

import os

import pytest
from sqlalchemy.exc import IntegrityError

from workbench.errors import JobNotFound
from workbench.jobs.exports import export
from workbench.library.db import create_db_engine
from workbench.library.jobs_store import JobStore


def test_jobs_steps_and_artifacts_roundtrip(wb):
    store = wb.jobs.store
    pid = wb.project("p").id
    job = store.create_job(pid, {"project": "p", "task": "pacing"})
    assert job.status == "queued" and store.job(job.id).request["task"] == "pacing"
    store.start(job.id, os.getpid())
    store.progress(job.id, "map", 2, 5, "map step 2 of 5", "partial")
    other = JobStore(create_db_engine(wb.library.db_path))  # e.g. a CLI in another process
    seen = other.job(job.id)
    assert (seen.status, seen.phase, seen.step, seen.steps_total, seen.partial_text) == (
        "running", "map", 2, 5, "partial")
    store.save_step(job.id, "map:0", "part 1", "[00:00:04] notes", 100, 10, 1.5, 123)
    with pytest.raises(IntegrityError):
        store.save_step(job.id, "map:0", "part 1", "again", 1, 1, 0.1, 124)
    assert other.steps(job.id)["map:0"].pid == 123
    other.request_cancel(job.id)
    assert store.cancel_requested(job.id)
    art = store.save_artifact(
        pid, job.id, task="pacing", title="Interview pacing notes", backend="local",
        model="m", params={"max_new_tokens": 8}, document_ids=[1], strategy="map-reduce",
        budget={"window": 8192, "prompt_tokens": 30000, "reserved_output": 8},
        text="*Map-reduced ...*\n\n- [00:00:04] tighten the opening\n- [00:01:02] keep",
        thinking="", prompt_tokens=30000, completion_tokens=20, seconds=3.0,
        cost={"price_table_date": "2026-11", "usd": {"GPT-5.5": 0.3008}},
        citations=[{"anchor": "00:00:04", "document_id": 1, "verified": True},
                   {"anchor": "00:01:02", "document_id": None, "verified": False,
                    "reason": "00:01:02 is not in the documents"}], extra={})
    store.finish(job.id, "done", artifact_id=art.id)
    assert store.job(job.id).artifact_id == art.id
    assert [a.id for a in store.artifacts(pid)] == [art.id]
    srt = export(art, "srt")
    assert srt.startswith("1\n00:00:04,000 --> 00:00:08,000\ntighten the opening\n")
    assert "2\n00:01:02,000 --> 00:01:06,000\nkeep" in srt
    md = export(art, "md")
    assert "| 00:01:02 | - | NO | 00:01:02 is not in the documents |" in md
    assert "GPT-5.5 $0.3008" in md and "(2026-11)" in md
    with pytest.raises(JobNotFound):
        store.job(999)


def test_shot_list_csv_export_rewrites_the_fenced_table(wb):
    store = wb.jobs.store
    pid = wb.project("p").id
    text = ("Here it is:\n```csv\nscene,shot,size,angle,movement,subject,description\n"
            'Sc. 1,1,WS,eye,static,park,"Bob, Margaret and the dog"\n```\n')
    art = store.save_artifact(
        pid, None, task="shot_list", title="Shot list", backend="local", model="m",
        params={}, document_ids=[1], strategy="whole", budget={}, text=text, thinking="",
        prompt_tokens=1, completion_tokens=1, seconds=0.1, cost={}, citations=[], extra={})
    assert export(art, "csv") == ("scene,shot,size,angle,movement,subject,description\n"
                                  'Sc. 1,1,WS,eye,static,park,"Bob, Margaret and the dog"\n')
