"""A ~30K-token slice of the Apollo 11 log on the 8K embedded default: an explicit map-reduce
job, killed (SIGKILL, a real subprocess) after its first map steps, resumed by a new process
that redoes no finished step, and an answer that says it was map-reduced and cites real cues."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from synthesis_docs import SLICE_BYTES, a11_slice

from workbench.library.db import create_db_engine
from workbench.library.jobs_store import JobStore

pytestmark = pytest.mark.slow


def _cli(data_dir):
    return [sys.executable, "-m", "workbench", "--data-dir", str(data_dir)]


def test_map_reduce_job_survives_a_kill_and_resumes(data_dir, testdocs, tmp_path):
    cli = _cli(data_dir)
    subprocess.run(cli + ["new-project", "p"], check=True, capture_output=True)
    path = a11_slice(testdocs, tmp_path / "a11_slice", SLICE_BYTES)
    subprocess.run(cli + ["import", "p", str(path)], check=True, capture_output=True)
    args = ["synthesize", "p", "--task", "pacing", "--docs", "1", "--map-reduce",
            "--max-new-tokens", "48", "--map-tokens", "32", "--chunk-tokens", "4000", "--json"]
    first = subprocess.Popen(cli + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    store = JobStore(create_db_engine(data_dir / "workbench.db"))
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            done = store.steps(1) if store.jobs() else {}
            if done:
                break
            assert first.poll() is None, first.stderr.read().decode()
            time.sleep(0.3)
        else:
            pytest.fail("no map step finished in 10 minutes")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    before = store.steps(1)
    assert set(before) and all(k.startswith("map:") for k in before)
    assert {s.pid for s in before.values()} == {first.pid}

    status = subprocess.run(cli + ["job-status", "1", "--json"], capture_output=True,
                            text=True, check=True)
    assert json.loads(status.stdout)["status"] == "interrupted"

    resumed = subprocess.run(cli + ["resume-job", "1", "--json"], capture_output=True,
                             text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    after = store.steps(1)
    for key, step in before.items():  # finished steps were reused, not redone
        assert after[key] == step
    maps = sorted(k for k in after if k.startswith("map:"))
    assert len(maps) >= 4 and "final" in after
    assert {after[k].pid for k in after if k not in before} != {first.pid}
    assert "reused" in resumed.stderr

    assert set(out) == {"text", "strategy", "budget", "usage", "seconds", "ttft_s", "engine",
                        "plan", "citations", "facts", "artifact_id"}
    assert out["plan"]["kind"] == "map-reduce"
    assert out["engine"]["model"] == "smollm2-135m-instruct"
    assert out["engine"]["backend"] == "local" and out["engine"]["kernels"] == "fused"
    assert set(out["budget"]) == {"window", "prompt_tokens", "reserved_output"}
    assert all(set(c) == {"anchor", "document_id", "verified", "origin", "sentence"}
               for c in out["citations"])
    assert out["strategy"] == "map-reduce"
    needed = out["budget"]["prompt_tokens"] + out["budget"]["reserved_output"]
    assert out["text"].startswith(f"*Map-reduced: the documents did not fit the model's window "
                                  f"({needed:,} tokens needed, 8,192 in the window), so this "
                                  f"answer was written from notes on {len(maps)} parts")
    assert out["budget"]["window"] == 8192 and out["budget"]["prompt_tokens"] > 25_000
    assert out["usage"]["prompt_tokens"] == sum(s.prompt_tokens for s in after.values())
    job = store.job(1)
    assert job.status == "done" and job.artifact_id == out["artifact_id"]
    verified = [c for c in out["citations"] if c["verified"]]
    assert verified, out
    from workbench.library import Library

    lib = Library(data_dir)
    anchors = {s.anchor for s in lib.sections(1)}
    for c in verified:
        assert c["document_id"] == 1
        art = store.artifact(out["artifact_id"])
        full = next(x for x in art.citations if x["anchor"] == c["anchor"] and x["verified"])
        assert c["anchor"] in anchors or full["reason"].startswith("inside cue ")
    lib.close()
