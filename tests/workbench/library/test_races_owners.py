"""kill -9 of a job's or a training run's process: its row reads "interrupted" (not running or
training for ever), even while the dead process is an unreaped zombie or its pid is reused,
and `resume` finishes a synthesis job without redoing a finished map step.

The job runs in a real child process on a scripted backend (a real class speaking the Backend
protocol, its answers known in advance) that blocks on its third call, so the kill lands after
exactly two finished map steps; `job-status` and `adapters` are the real CLI."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from workbench.library import Library
from workbench.library.adapters_store import AdapterStore
from workbench.library.db import create_db_engine
from workbench.library.jobs_models import Job
from workbench.library.jobs_store import JobStore

ROOT = Path(__file__).resolve().parents[3]

CHILD = textwrap.dedent("""
    import json, sys, threading, time
    from pathlib import Path
    from engine.events import Done, TextDelta, Usage
    from workbench.config import Settings
    from workbench.importers.base import ParsedDocument, Section
    from workbench.workbench import Workbench

    data_dir, calls_file, block_at, mode = Path(sys.argv[1]), Path(sys.argv[2]), \\
        int(sys.argv[3]), sys.argv[4]

    class NotesBackend:
        name, model, context_window = "scripted", "scripted-notes", 700

        def count_tokens(self, messages):
            return sum(len(m.content.split()) + 4 for m in messages)

        def stream(self, messages, params, cancel=None):
            with calls_file.open("a") as f:
                f.write("call\\n")
            if sum(1 for _ in calls_file.open()) == block_at:
                while True:  # the kill lands here, mid-step
                    time.sleep(1)
            yield TextDelta("- [Sc. 1] the kitchen scene sets the pace.")
            yield Usage(self.count_tokens(messages), 9)
            yield Done("stop")

    wb = Workbench(Settings(data_dir=data_dir, cache_dir=Settings().cache_dir))
    wb.use_backend(NotesBackend())
    if mode == "start":
        wb.new_project("P")
        scenes = [Section("scene", f"Sc. {i + 1}", i,
                          f"INT. ROOM {i + 1} - NIGHT\\n\\n" + "MARA waits by the door. " * 20,
                          heading=f"INT. ROOM {i + 1} - NIGHT", number=str(i + 1))
                  for i in range(12)]
        doc = ParsedDocument("Long Night", "screenplay", "fountain",
                             "\\n\\n".join(s.text for s in scenes), scenes, {"scenes": 12})
        wb.library.add_document("P", doc, b"long night", "night.fountain")
        wb.synthesize("P", "pacing", strategy="map-reduce", max_new_tokens=16, map_tokens=16)
    else:
        answer = wb.resume_job(1)
        print(json.dumps({"status": answer.job.status, "text": answer.text}))
""")


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                           *args], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=300)


def _wait_for(predicate, proc: subprocess.Popen, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_killed_synthesis_job_reads_interrupted_and_resumes_without_redoing_steps(
        data_dir, tmp_path):
    calls = tmp_path / "calls"
    first = subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir), str(calls), "3",
                              "start"], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: calls.exists() and len(calls.read_text().split()) == 3, first,
                  "the third backend call")
        os.kill(first.pid, signal.SIGKILL)
        # Not reaped yet: the dead process is a zombie, which `pid_exists` calls alive.
        time.sleep(0.5)
        status = cli(data_dir, "job-status", "1", "--json")
        assert status.returncode == 0, status.stderr
        job = json.loads(status.stdout)
        assert job["status"] == "interrupted", job
        assert "resume-job 1" in job["message"]
        assert job["steps_done"] == ["map:0", "map:1"]
    finally:
        first.kill()
        first.communicate()
    store = JobStore(create_db_engine(data_dir / "workbench.db"))
    before = store.steps(1)
    assert store.job(1).status == "interrupted"  # and still so once reaped
    assert cli(data_dir, "job-status", "1", "--json").stdout.count('"interrupted"') == 1

    calls.unlink()
    resumed = subprocess.run([sys.executable, "-c", CHILD, str(data_dir), str(calls), "0",
                              "resume"], cwd=ROOT, env=_env(), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert out["status"] == "done" and out["text"].startswith("*Map-reduced")
    after = store.steps(1)
    for key, step in before.items():  # finished steps were reused, not redone
        assert after[key] == step and step.pid == first.pid
    new = [k for k in after if k not in before]
    assert new and len({after[k].pid for k in new} - {first.pid}) == 1
    assert len(calls.read_text().split()) == len(new)  # one backend call per missing step
    assert store.job(1).status == "done"


def test_a_job_row_whose_pid_was_reused_reads_interrupted(data_dir):
    Library.open(data_dir).close()
    store = JobStore.open(data_dir / "workbench.db")
    with Library(data_dir) as lib:
        project = lib.create_project("P")
    job = store.create_job(project.id, {"project": "P"})
    store.start(job.id, os.getpid())
    assert store.job(job.id).status == "running"  # this live process owns it
    with store.engine.begin() as conn:  # a process that started at another time had this pid
        conn.execute(update(Job).values(owner_started=Job.owner_started - 3600))
    assert store.job(job.id).status == "interrupted"
    assert [j.id for j in store.jobs(statuses=("interrupted",))] == [job.id]
    assert store.jobs(statuses=("running",)) == []
    assert "resume-job 1" in store.job(job.id).message
    assert store.start(job.id, os.getpid()).status == "running"  # resumable: claimed again
    other = store.create_job(project.id, {"project": "P"})
    with store.engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == other.id)
                     .values(owner_started=Job.owner_started - 3600))
    assert store.job(other.id).status == "interrupted"
    assert store.request_cancel(other.id).status == "cancelled"  # nobody left to stop it


def test_a_killed_training_run_reads_interrupted_in_adapters(data_dir):
    with Library.open(data_dir) as lib:
        project = lib.create_project("P")
    script = textwrap.dedent(f"""
        import os, time
        from pathlib import Path
        from workbench.library.adapters_store import AdapterStore
        store = AdapterStore.open(Path({str(data_dir / "workbench.db")!r}))
        store.create({project.id}, "house-style", "/nowhere", base_model="m", base_hash="b",
                     dataset_hash="d", run_key="k", hyperparameters={{}}, dataset={{}},
                     steps_total=50, pid=os.getpid())
        store.progress(1, 7)
        print("training", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "training", proc.stderr.read()
        listed = json.loads(cli(data_dir, "adapters", "P", "--json").stdout)
        assert [a["status"] for a in listed] == ["training"]  # alive: really training
        os.kill(proc.pid, signal.SIGKILL)
        time.sleep(0.5)  # a zombie until reaped below
        listed = json.loads(cli(data_dir, "adapters", "P", "--json").stdout)
        assert [(a["status"], a["step"]) for a in listed] == [("interrupted", 7)]
    finally:
        proc.kill()
        proc.communicate()
    store = AdapterStore(create_db_engine(data_dir / "workbench.db"))
    info = store.get(1)
    assert info.status == "interrupted" and "resume" in info.error
    assert store.unfinished(project.id, "k").id == 1
    assert store.claim(1, os.getpid()).status == "training"  # the same request takes it over


def test_a_live_owner_keeps_its_run(data_dir):
    with Library.open(data_dir) as lib:
        project = lib.create_project("P")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        store = AdapterStore.open(data_dir / "workbench.db")
        store.create(project.id, "a", "/nowhere", base_model="m", base_hash="b",
                     dataset_hash="d", run_key="k", hyperparameters={}, dataset={},
                     steps_total=5, pid=sleeper.pid)
        from workbench.errors import TrainingBusy

        assert store.get(1).status == "training"
        with pytest.raises(TrainingBusy, match=str(sleeper.pid)):
            store.claim(1, os.getpid())
    finally:
        sleeper.kill()
        sleeper.wait()
    assert store.get(1).status == "interrupted"
