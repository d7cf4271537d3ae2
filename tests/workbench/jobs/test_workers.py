"""Workers on one database: detached jobs are claimed by exactly one worker process, a worker
killed with SIGKILL mid-job leaves its job to the next one (which redoes no finished step), a
lapsed lease frees a job held on another host, and a cancelled queued job is never claimed.

Workers are real processes (worker_child.py: the CLI's Worker loop on a scripted backend);
`job-status` and `cancel-job` are the real CLI."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from scripted import ScriptedBackend, screenplay
from sqlalchemy import update

from workbench.jobs.worker import new_worker_id
from workbench.library.job_queue import JobQueue
from workbench.library.jobs_models import Job
from workbench.library.models import utcnow

ROOT = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).with_name("worker_child.py")


def _workbench(job_db, log: Path, scenes: int = 3, repeat: int = 4):
    from workbench.workbench import Workbench

    wb = Workbench(job_db.settings())
    wb.use_backend(ScriptedBackend(log))
    wb.new_project("P")
    doc, raw = screenplay(scenes, repeat)
    wb.library.add_document("P", doc, raw, "night.fountain")
    return wb


def _worker(job_db, log: Path, block_at: int = 0, wait: bool = False,
            idle_s: float = 1.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), str(job_db.data_dir), str(log),
                             str(block_at), "1" if wait else "0", str(idle_s)],
                            cwd=ROOT, env={**job_db.env, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _cli(job_db, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "workbench", "--data-dir",
                          str(job_db.data_dir), *args, "--json"], cwd=ROOT, env=job_db.env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _calls(log: Path) -> list[tuple[int, str]]:
    return [(int(p), m) for p, m in (ln.split() for ln in log.read_text().splitlines())]


def test_two_workers_never_run_the_same_job(job_db, tmp_path):
    log = tmp_path / "calls"
    wb = _workbench(job_db, tmp_path / "submit-calls")
    jobs = [wb.synthesize("P", "free", f"Summarise, tag job-{i}.", detach=True,
                          max_new_tokens=8) for i in range(10)]
    assert {j.status for j in jobs} == {"queued"} and all(j.detached for j in jobs)
    assert not (tmp_path / "submit-calls").exists()  # queued, not run by the submitter
    workers = [_worker(job_db, log, wait=True) for _ in range(2)]
    outs = [w.communicate(timeout=240) for w in workers]
    for w, (out, err) in zip(workers, outs):
        assert w.returncode == 0, err
    ran = [[j["id"] for j in json.loads(out)] for out, _ in outs]
    assert sorted(ran[0] + ran[1]) == [j.id for j in jobs]  # each job once, none twice
    assert ran[0] and ran[1]  # both claimed at once (each waited for the other's first call)
    calls = _calls(log)
    assert sorted(m for _, m in calls) == sorted(f"job-{i}" for i in range(10))
    store = job_db.store()
    pid_of = {w.pid: ids for w, ids in zip(workers, ran)}
    for pid, marker in calls:
        job = store.job(jobs[int(marker.split("-")[1])].id)
        assert job.status == "done" and job.artifact_id is not None
        assert job.id in pid_of[pid] and job.pid == pid
        assert job.worker_id.split(":")[1] == str(pid)
    status = _cli(job_db, "job-status", str(jobs[0].id))
    assert status["status"] == "done"
    assert status["artifact_id"] == store.job(jobs[0].id).artifact_id
    assert status["kind"] == "synthesis" and status["worker"]["pid"] in pid_of


def test_a_worker_killed_mid_job_leaves_it_to_the_next_worker(job_db, tmp_path):
    log = tmp_path / "calls"
    wb = _workbench(job_db, tmp_path / "submit-calls", scenes=12, repeat=20)
    job = wb.synthesize("P", "pacing", detach=True, strategy="map-reduce", max_new_tokens=16,
                        map_tokens=16)
    first = _worker(job_db, log, block_at=3, idle_s=60)
    store = job_db.store()
    try:
        deadline = time.monotonic() + 120
        while len(store.steps(job.id)) < 2:  # two map steps saved: the checkpoint
            assert first.poll() is None, first.communicate()[1]
            assert time.monotonic() < deadline, "no map step finished"
            time.sleep(0.1)
        while len(_calls(log)) < 3:
            time.sleep(0.05)
        running = store.job(job.id)
        assert running.status == "running" and running.pid == first.pid
        os.kill(first.pid, signal.SIGKILL)
        time.sleep(0.5)  # an unreaped zombie still: owner.py reads it as gone
        status = _cli(job_db, "job-status", str(job.id))
        assert status["status"] == "interrupted" and "worker" in status["message"]
        assert status["steps_done"] == ["map:0", "map:1"]
    finally:
        first.kill()
        first.communicate()
    before = store.steps(job.id)
    second = _worker(job_db, log, idle_s=0.5)
    out, err = second.communicate(timeout=240)
    assert second.returncode == 0, err
    assert [j["id"] for j in json.loads(out)] == [job.id]
    done = store.job(job.id)
    assert done.status == "done" and done.pid == second.pid and done.artifact_id
    after = store.steps(job.id)
    for key, step in before.items():  # the checkpoint was reused, not redone
        assert after[key] == step and step.pid == first.pid
    new = [k for k in after if k not in before]
    assert new and {after[k].pid for k in new} == {second.pid}
    assert [p for p, _ in _calls(log)].count(second.pid) == len(new)
    assert store.artifact(done.artifact_id).text.startswith("*Map-reduced")


def test_a_job_on_another_host_is_claimable_once_its_lease_lapses(job_db, tmp_path):
    wb = _workbench(job_db, tmp_path / "calls")
    job = wb.synthesize("P", "free", "Summarise job-0.", detach=True, max_new_tokens=8)
    store = job_db.store()
    mine, other = JobQueue(store.engine, new_worker_id()), JobQueue(store.engine, "far:1:x")
    assert mine.claim(30).id == job.id
    assert mine.claim(30) is None and other.claim(30) is None  # held, lease running
    with store.engine.begin() as conn:  # as if a worker on another host had claimed it
        conn.execute(update(Job).values(owner_host="far-away", pid=1, worker_id="far:1:x"))
    assert store.job(job.id).status == "running"  # cannot be checked from here: its word
    assert other.heartbeat(job.id, 30) and not mine.heartbeat(job.id, 30)
    assert mine.claim(30) is None
    with store.engine.begin() as conn:  # its heartbeat stopped: the lease ran out
        conn.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert store.job(job.id).status == "interrupted"
    taken = mine.claim(30)
    assert taken.id == job.id and taken.status == "running" and taken.owner_host != "far-away"
    assert not other.heartbeat(job.id, 30)  # the old worker learns it lost the job
    wb.jobs.execute(job.id, worker_id="far:1:x")  # a stale worker cannot finish it ...
    assert store.job(job.id).status == "running"
    wb.jobs.execute(job.id, worker_id=mine.worker_id)  # ... its holder does
    assert store.job(job.id).status == "done"


def test_a_cancelled_queued_job_is_never_claimed(job_db, tmp_path):
    wb = _workbench(job_db, tmp_path / "calls")
    job = wb.synthesize("P", "free", "Summarise job-0.", detach=True, max_new_tokens=8)
    assert _cli(job_db, "cancel-job", str(job.id))["status"] == "cancelled"
    assert JobQueue(job_db.store().engine, new_worker_id()).claim(30) is None
    assert job_db.store().job(job.id).status == "cancelled"


def test_a_worker_takes_only_its_kinds_and_bad_worker_input_exits_2(job_db, tmp_path):
    wb = _workbench(job_db, tmp_path / "calls")
    job = wb.synthesize("P", "free", "Summarise job-0.", detach=True, max_new_tokens=8)
    queue = JobQueue(job_db.store().engine, new_worker_id())
    assert queue.claim(30, kinds=("trust",)) is None
    for args, message in ((["worker", "--kinds", "nope"], "unknown job kind nope"),
                          (["worker", "--lease", "0"], "must be positive"),
                          (["resume-job", str(job.id)], "queued for a worker")):
        out = subprocess.run([sys.executable, "-m", "workbench", "--data-dir",
                              str(job_db.data_dir), *args], cwd=ROOT, env=job_db.env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    assert job_db.store().job(job.id).status == "queued"  # changed nothing
    assert queue.claim(30, kinds=("synthesis",)).id == job.id


class _GatedBackend(ScriptedBackend):
    """Answers only once `gate` is set, so a test can act while the job is mid-call."""

    def __init__(self, log: Path):
        super().__init__(log)
        import threading

        self.called, self.gate = threading.Event(), threading.Event()

    def stream(self, messages, params, cancel=None):
        self.called.set()
        self.gate.wait(60)
        yield from super().stream(messages, params, cancel)


def test_a_worker_that_lost_its_job_stops_and_leaves_the_row_to_the_new_holder(job_db,
                                                                               tmp_path):
    import threading

    from workbench.jobs.worker import Worker, WorkerOptions

    wb = _workbench(job_db, tmp_path / "submit-calls")
    job = wb.synthesize("P", "free", "Summarise job-0.", detach=True, max_new_tokens=8)
    backend = _GatedBackend(tmp_path / "calls")
    wb.use_backend(backend)
    worker = Worker(wb.jobs, WorkerOptions(lease_s=0.3))
    ran: list = []
    t = threading.Thread(target=lambda: ran.append(worker.run_one()))
    t.start()
    try:
        assert backend.called.wait(60)
        store = job_db.store()
        assert store.job(job.id).worker_id == worker.id
        with store.engine.begin() as conn:  # another worker took it over after a lapse
            conn.execute(update(Job).values(worker_id="far:1:x"))
        deadline = time.monotonic() + 60
        while job.id not in worker.lost_jobs:  # its next heartbeat finds the row taken
            assert time.monotonic() < deadline, "the worker never noticed"
            time.sleep(0.05)
    finally:
        backend.gate.set()
        t.join(60)
    assert not t.is_alive()
    after = job_db.store().job(job.id)
    assert after.worker_id == "far:1:x" and after.status == "running"  # not overwritten
    assert after.artifact_id is None and ran[0].id == job.id


def test_a_step_saved_twice_by_racing_workers_keeps_the_first(job_db, tmp_path):
    wb = _workbench(job_db, tmp_path / "calls")
    job = wb.synthesize("P", "free", "Summarise job-0.", detach=True, max_new_tokens=8)
    store = job_db.store()
    first = store.save_step(job.id, "map:0", "Sc. 1", "first notes", 10, 2, 0.1, 111)
    again = store.save_step(job.id, "map:0", "Sc. 1", "later notes", 10, 2, 0.1, 222,
                            keep_existing=True)
    assert again == first and store.steps(job.id)["map:0"].text == "first notes"
