"""The whole path through the real CLI and the embedded default model: `synthesize --detach`,
`trust --detach` and `train-adapter --detach` return a job id and leave queued jobs, one
`worker` process claims all three (the registry runs each kind), and `job-status` shows the
synthesis artifact, the trust result and the trained adapter's summary. One test, so the
model loads once per process."""
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
TRAIN = ["--steps", "2", "--checkpoint-every", "1", "--rank", "2", "--batch-size", "1",
         "--max-tokens", "32", "--layers", "1", "--threads", "1", "--eval-prompts", "1",
         "--eval-tokens", "4"]


def _run(job_db, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir",
                           str(job_db.data_dir), *args], cwd=ROOT, env=job_db.env,
                          capture_output=True, text=True, timeout=timeout)


def _json(job_db, *args: str) -> dict:
    out = _run(job_db, *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# The model-running end-to-end test runs on the default SQLite library (CI time); the claim,
# lease and kill tests in test_workers.py run worker processes on both databases.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_detached_jobs_run_in_a_worker_process(job_db, testdocs, tmp_path):
    _json(job_db, "new-project", "P")
    imported = _json(job_db, "import", "P", str(testdocs / EPISODE), str(testdocs / NOVEL))
    episode, novel = (d["id"] for d in imported)
    style = tmp_path / "scandal.txt"
    words = (testdocs / NOVEL).read_text(encoding="utf-8").split()[2000:4500]
    style.write_text(" ".join(words), encoding="utf-8")
    _json(job_db, "import", "P", str(style), "--role", "style")
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
    training = _json(job_db, "train-adapter", "P", *TRAIN, "--detach")
    assert training["kind"] == "training" and training["job_id"] == job_id + 2
    assert _json(job_db, "adapters", "P") == []  # nothing trained by the submitter

    worker = _run(job_db, "worker", "--idle-exit", "0.5", "--json", timeout=600)
    assert worker.returncode == 0, worker.stderr
    ran = json.loads(worker.stdout)
    assert [(j["id"], j["kind"], j["status"]) for j in ran["jobs"]] == [
        (job_id, "synthesis", "done"), (job_id + 1, "trust", "done"),
        (job_id + 2, "training", "done")]
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
    trained = _json(job_db, "job-status", str(job_id + 2))
    assert trained["status"] == "done" and trained["step"] == 2 and trained["steps_total"] == 2
    assert trained["result"]["adapter"] == "style-1" and trained["result"]["steps"] == 2
    assert set(trained["result"]["eval"]) >= {"loss_before", "loss_after"}
    adapters = _json(job_db, "adapters", "P")
    assert [(a["name"], a["status"], a["step"]) for a in adapters] == [("style-1", "ready", 2)]
