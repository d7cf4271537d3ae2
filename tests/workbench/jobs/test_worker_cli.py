"""The whole path through the real CLI and the embedded default model: `synthesize --detach`
and `trust --detach` return a job id and leave queued jobs, one `worker` process claims both
(the registry runs each kind), and `job-status` shows the synthesis artifact and the trust
result."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
EPISODE = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"
NOVEL = "prose/jsvine__markovify/sherlock.txt"


def _run(job_db, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir",
                           str(job_db.data_dir), *args], cwd=ROOT, env=job_db.env,
                          capture_output=True, text=True, timeout=timeout)


def _json(job_db, *args: str) -> dict:
    out = _run(job_db, *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_detached_jobs_run_in_a_worker_process(job_db, testdocs):
    _json(job_db, "new-project", "P")
    _json(job_db, "import", "P", str(testdocs / EPISODE), str(testdocs / NOVEL))
    docs = {d["kind"]: d["id"] for d in _json(job_db, "show", "P")["documents"]}
    episode, novel = docs["screenplay"], docs["prose"]
    queued = _json(job_db, "synthesize", "P", "--prompt", "Who is in the park scene?",
                   "--docs", str(episode), "--max-new-tokens", "8", "--detach")
    assert set(queued) == {"job_id", "kind", "status"}
    assert queued["kind"] == "synthesis" and queued["status"] == "queued"
    job_id = queued["job_id"]
    status = _json(job_db, "job-status", str(job_id))
    assert status["status"] == "queued" and status["detached"] and status["worker"] is None
    assert status["artifact_id"] is None
    trust = _json(job_db, "trust", "P", "--docs", str(novel), "--lengths", "400",
                  "--depths", "50", "--max-new-tokens", "8", "--detach")
    assert trust["kind"] == "trust" and trust["job_id"] == job_id + 1

    worker = _run(job_db, "worker", "--idle-exit", "0.5", "--json", timeout=600)
    assert worker.returncode == 0, worker.stderr
    ran = json.loads(worker.stdout)
    assert [(j["id"], j["kind"], j["status"]) for j in ran["jobs"]] == [
        (job_id, "synthesis", "done"), (job_id + 1, "trust", "done")]
    assert f"job {job_id} (synthesis): claimed" in worker.stderr

    done = _json(job_db, "job-status", str(job_id))
    assert done["status"] == "done" and done["artifact_id"] == ran["jobs"][0]["artifact_id"]
    assert done["worker"]["id"] == ran["worker"] and done["worker"]["pid"]
    arts = _json(job_db, "artifacts", "P")
    assert [a["id"] for a in arts] == [done["artifact_id"]]
    assert 0 < arts[0]["completion_tokens"] <= 8
    checked = _json(job_db, "job-status", str(job_id + 1))
    result = checked["result"]
    assert checked["status"] == "done" and result["run_id"]
    assert [(c["length"], c["depth"]) for c in result["cells"]] == [(400, 50.0)]
    assert 0.0 <= result["score"] <= 1.0 and result["model"] == "smollm2-135m-instruct"
