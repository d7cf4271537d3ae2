"""`python -m workbench worker`: a process that claims detached jobs and runs them.

Any number of workers, on this machine or others sharing the database, take jobs from the
jobs table (library/job_queue.py: the claim, the lease, why no queue library) and run each one
through the same `JobManager.execute` and job-kind registry as the UI's threads, so a job runs
the same wherever it is picked up. While a job runs, a heartbeat thread renews its lease every
third of the lease; if the renewal finds the job taken over (this worker stalled past its
lease), the job's `should_stop` turns true and this worker leaves the row alone. A worker that
is killed leaves its job to the next claimer, which resumes from the job's saved steps.
Models stay loaded between jobs (the manager's `backend_for` caches them).

Does not know SQL (JobQueue, JobStore) or what a job does (the registry).
"""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from workbench.library.job_queue import JobQueue
from workbench.library.jobs_store import JobInfo

DEFAULT_LEASE_S = 60.0
DEFAULT_POLL_S = 1.0


@dataclass(frozen=True)
class WorkerOptions:
    lease_s: float = DEFAULT_LEASE_S  # a job whose heartbeat is older is claimable again
    poll_s: float = DEFAULT_POLL_S  # wait between claims when nothing is queued
    once: bool = False  # run at most one job, then exit
    idle_exit_s: float | None = None  # exit after this long with nothing to claim
    kinds: tuple[str, ...] = ()  # only these job kinds (default: every kind)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Claims and runs jobs for one JobManager (its library, store and backends)."""

    def __init__(self, manager, options: WorkerOptions = WorkerOptions()):
        if options.lease_s <= 0 or options.poll_s <= 0:
            from workbench.errors import WorkbenchError

            raise WorkbenchError("--lease and --poll must be positive numbers of seconds")
        self.manager, self.options = manager, options
        self.id = new_worker_id()
        self.queue = JobQueue(manager.store.engine, self.id)
        self.lost_jobs: set[int] = set()  # taken over by another worker while this one ran

    def run_one(self, on_claim: Callable[[JobInfo], None] | None = None) -> JobInfo | None:
        """Claim one job and run it to its end here; None when nothing is claimable."""
        job = self.queue.claim(self.options.lease_s, self.options.kinds)
        if job is None:
            return None
        if on_claim is not None:
            on_claim(job)
        lost, stop = threading.Event(), threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job.id, lost, stop),
                                name=f"longhand-heartbeat-{job.id}", daemon=True)
        beat.start()
        try:
            self.manager.execute(job.id, worker_id=self.id, lost=lost.is_set)
        except BaseException:  # Ctrl-C, SIGTERM: hand the job back for the next worker
            stop.set()
            self.queue.release(job.id)
            raise
        finally:
            stop.set()
            beat.join()
        return self.manager.store.job(job.id)

    def _heartbeat(self, job_id: int, lost: threading.Event, stop: threading.Event) -> None:
        every = self.options.lease_s / 3
        while not stop.wait(every):
            try:
                if not self.queue.heartbeat(job_id, self.options.lease_s):
                    self.lost_jobs.add(job_id)
                    lost.set()
                    return
            except Exception:  # noqa: BLE001 - a busy database: try again next beat
                continue

    def run(self, on_claim: Callable[[JobInfo], None] | None = None,
            on_done: Callable[[JobInfo], None] | None = None) -> list[JobInfo]:
        """Claim and run jobs until `once` ran one, or `idle_exit_s` passed with none to
        claim (for ever without either); returns the jobs it ran, in their final state."""
        ran: list[JobInfo] = []
        idle_since = time.monotonic()
        while True:
            job = self.run_one(on_claim)
            if job is not None:
                ran.append(job)
                if on_done is not None:
                    on_done(job)
                if self.options.once:
                    return ran
                idle_since = time.monotonic()
                continue
            idle = self.options.idle_exit_s
            if self.options.once and idle is None:
                return ran
            if idle is not None and time.monotonic() - idle_since >= idle:
                return ran
            time.sleep(self.options.poll_s)
