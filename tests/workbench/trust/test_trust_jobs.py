"""Trust checks as background jobs: run in a thread, cancel from the row, resume after a crash
asking only the cells that were not answered."""
from __future__ import annotations

import threading
import time

import pytest
from trust_docs import SHERLOCK
from trust_backends import ReadingBackend

from workbench.errors import WorkbenchError
from workbench.jobs.manager import CANCEL_POLL_S
from workbench.library.jobs_store import JobStore
from workbench.trust.jobs import TrustJobManager
from workbench.trust.runner import TrustRequest

REQUEST = TrustRequest("Holmes", lengths=("600", "1500"), depths=(0, 50, 100), seed=4)


class Crash(BaseException):
    """Stands for the process dying: not caught by the job's error handling."""


class CrashingBackend(ReadingBackend):
    def __init__(self, after: int):
        super().__init__()
        self.after = after

    def answer(self, prompt: str) -> str:
        if self.calls > self.after:
            raise Crash()
        return super().answer(prompt)


class GatedBackend(ReadingBackend):
    """Waits on a gate before each answer, so a test can cancel while a cell is running."""

    def __init__(self):
        super().__init__()
        self.gate, self.asked = threading.Event(), threading.Event()

    def answer(self, prompt: str) -> str:
        self.asked.set()
        self.gate.wait(10)
        return super().answer(prompt)


@pytest.fixture
def jobs(library, project_with):
    project_with("Holmes", SHERLOCK)
    store = JobStore.open(library.db_path)
    yield lambda backend: TrustJobManager(library, store, lambda model: backend)
    store.engine.dispose()


def test_a_trust_job_runs_in_the_background_and_stores_its_result(jobs):
    make = jobs
    manager = make(ReadingBackend())
    job = manager.submit(REQUEST)
    done = manager.wait(job.id, timeout=60)
    assert done.status == "done" and done.kind == "trust"
    assert done.plan["cells"] == 6 and done.plan["lengths"] == [600, 1500]
    assert done.step == done.steps_total == 6
    run = manager.result(job.id)
    assert run.job_id == job.id and run.score == 1.0 and len(run.cells) == 6
    assert [j.id for j in manager.trust_jobs()] == [job.id]


def test_bad_requests_fail_before_a_job_exists(jobs):
    make = jobs
    manager = make(ReadingBackend())
    with pytest.raises(WorkbenchError):
        manager.submit(TrustRequest("Holmes", lengths=("99999",)))
    assert manager.trust_jobs() == []


def test_cancel_from_the_row_stops_the_job_and_stores_nothing(jobs):
    make = jobs
    backend = GatedBackend()
    manager = make(backend)
    job = manager.submit(REQUEST)
    assert backend.asked.wait(10)
    manager.cancel(job.id)
    time.sleep(CANCEL_POLL_S + 0.2)  # the running job reads the flag at most this often
    backend.gate.set()
    done = manager.wait(job.id, timeout=60)
    assert done.status == "cancelled"
    assert manager.result(job.id) is None and backend.calls < 6


def test_resume_after_a_crash_asks_only_the_missing_cells(jobs):
    make = jobs
    crashing = make(CrashingBackend(after=2))
    with pytest.raises(Crash):
        crashing.submit(REQUEST, background=False)
    job = crashing.trust_jobs()[0]
    assert job.status == "running" and len(crashing.store.steps(job.id)) == 2
    fresh = ReadingBackend()
    manager = make(fresh)
    assert manager.resume_interrupted() == [job.id]
    done = manager.wait(job.id, timeout=60)
    assert done.status == "done" and fresh.calls == 4
    assert manager.result(job.id).score == 1.0
