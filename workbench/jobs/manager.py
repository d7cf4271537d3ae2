"""The in-process job runner: jobs in background threads, with their state in the database.

A job is a row (kind, request, status, progress, streamed text) plus the work function its
kind registered (jobs/registry.py), given `progress` and `should_stop` callbacks that write and
read that row. Finished steps are saved as they complete, so `resume()` after a crash, a kill
or a restart reruns only the missing steps. Cancel is a flag in the row, so a CLI in another
process can cancel a job the UI started, and the other way round. `submit(..., detach=True)`
only queues the row for `worker` processes (jobs/worker.py), which run it through `execute`,
the same code as a thread here.

Does not know SQL (workbench/library/jobs_store.py), models (a `backend_for(model)` callable
is passed in) or what a kind does (its package registers that).
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable, Iterator

from engine.errors import Cancelled, EngineError

from workbench.errors import WorkbenchError
from workbench.jobs.registry import JobContext, work_for
from workbench.library.jobs_store import JobInfo, JobStore
from workbench.synthesis.mapreduce import StepResult
from workbench.synthesis.runner import Progress, SynthesisRequest

WRITE_EVERY_S = 0.5
CANCEL_POLL_S = 0.5


class DbSteps:
    """The runner's step store, backed by job_steps rows."""

    def __init__(self, store: JobStore, job_id: int):
        self.store, self.job_id = store, job_id
        self.done = {k: StepResult(s.label, s.text, s.prompt_tokens, s.completion_tokens,
                                   s.seconds) for k, s in store.steps(job_id).items()}

    def get(self, key: str) -> StepResult | None:
        return self.done.get(key)

    def put(self, key: str, result: StepResult) -> None:
        s = self.store.save_step(self.job_id, key, result.label, result.text,
                                 result.prompt_tokens, result.completion_tokens, result.seconds,
                                 os.getpid(), keep_existing=True)  # the first one wins
        self.done[key] = StepResult(s.label, s.text, s.prompt_tokens, s.completion_tokens,
                                    s.seconds)


class JobReporter:
    """Turns runner progress into throttled row updates and answers `should_stop`."""

    def __init__(self, store: JobStore, job_id: int, listener=None,
                 lost: Callable[[], bool] | None = None):
        self.store, self.job_id, self.listener, self.lost = store, job_id, listener, lost
        self.text, self.last_write, self.last_poll, self.stop = "", 0.0, 0.0, False
        self.state, self.figures = Progress("queued"), None

    def __call__(self, p: Progress) -> None:
        if self.listener is not None:
            self.listener(p)
        changed = (p.phase, p.step, p.message) != (self.state.phase, self.state.step,
                                                   self.state.message) and not p.delta
        if p.phase != self.state.phase or p.step != self.state.step:
            self.text = ""
        self.text += p.delta
        if not p.delta and not p.thinking:
            self.state = p
        if p.figures is not None:
            self.figures = p.figures
        now = time.monotonic()
        if changed or now - self.last_write >= WRITE_EVERY_S:
            self.last_write = now
            self.store.progress(self.job_id, self.state.phase, self.state.step,
                                self.state.steps_total, self.state.message, self.text,
                                figures=self.figures)

    def should_stop(self) -> bool:
        if self.lost is not None and self.lost():  # a worker that no longer holds the job
            return True
        now = time.monotonic()
        if not self.stop and now - self.last_poll >= CANCEL_POLL_S:
            self.last_poll = now
            self.stop = self.store.cancel_requested(self.job_id)
        return self.stop


class JobManager:
    """Runs jobs of any registered kind; `kind` is the one `submit` and `resume` deal in
    (trust/jobs.py's subclass sets "trust")."""

    kind = "synthesis"

    def __init__(self, library, store: JobStore, backend_for: Callable[[str | None], object],
                 settings=None):
        self.library, self.store, self.backend_for = library, store, backend_for
        self.settings = settings
        self._threads: dict[int, threading.Thread] = {}
        self._planned: dict[int, object] = {}  # plans made by submit(), used once by execute
        self._lock = threading.Lock()

    def submit(self, request: SynthesisRequest, *, background: bool = True,
               listener: Callable[[Progress], None] | None = None,
               detach: bool = False) -> JobInfo:
        """Check the budget now (a refusal raises BudgetExceeded before any job exists), then
        create the job and run it in a thread (or in this thread if not `background`), or with
        `detach` leave it queued for a worker."""
        from workbench.synthesis.job_kind import prepare

        planned, plan_row = prepare(request, self.backend_for(request.model), self.library)
        return self.enqueue(request.project, request.to_dict(), plan_row, planned=planned,
                            background=background, listener=listener, detach=detach)

    def enqueue(self, project: str, request: dict, plan_row: dict, *, planned=None,
                background: bool = True, listener=None, detach: bool = False,
                kind: str | None = None) -> JobInfo:
        """Create a job (of this manager's kind by default); run it here unless `detach`."""
        project_id = self.library.get_project(project).id
        job = self.store.create_job(project_id, request, kind=kind or self.kind,
                                    detached=detach, plan=plan_row)
        if detach:
            return job
        self._planned[job.id] = planned
        return self.start(job.id, background=background, listener=listener)

    def start(self, job_id: int, *, background: bool = True,
              listener: Callable[[Progress], None] | None = None) -> JobInfo:
        with self._lock:
            running = self._threads.get(job_id)
            if running is not None and running.is_alive():
                return self.store.job(job_id)
            job = self.store.start(job_id, os.getpid())
            if background:
                t = threading.Thread(target=self.execute, args=(job_id, listener),
                                     name=f"longhand-job-{job_id}", daemon=True)
                self._threads[job_id] = t
                t.start()
                return job
        self.execute(job_id, listener)
        return self.store.job(job_id)

    def execute(self, job_id: int, listener=None, *, worker_id: str | None = None,
                lost: Callable[[], bool] | None = None):
        """Run a claimed job's work in this thread through its kind's registered function and
        always leave a final state behind (with `worker_id`: only while that worker holds it;
        `lost()` true stops the work). Returns the kind's in-process value, or None."""
        job = self.store.job(job_id)
        reporter = JobReporter(self.store, job_id, listener, lost)
        ctx = JobContext(job, self.library, self.store, self.backend_for, self.settings,
                         reporter, reporter.should_stop, DbSteps(self.store, job_id),
                         self._planned.pop(job_id, None))
        try:
            outcome = work_for(job.kind)(ctx)
        except Cancelled:
            self.store.finish(job_id, "cancelled", worker_id=worker_id)
            return None
        except (WorkbenchError, EngineError) as exc:
            self.store.finish(job_id, "failed", str(exc), worker_id=worker_id)
            return None
        except Exception as exc:  # a job thread must always leave a final state behind
            self.store.finish(job_id, "failed", f"{type(exc).__name__}: {exc}",
                              worker_id=worker_id)
            return None
        self.store.finish(job_id, "done", artifact_id=outcome.artifact_id,
                          result=outcome.result, worker_id=worker_id)
        return outcome.value

    def cancel(self, job_id: int) -> JobInfo:
        return self.store.request_cancel(job_id)

    def wait(self, job_id: int, timeout: float | None = None) -> JobInfo:
        t = self._threads.get(job_id)
        if t is not None:
            t.join(timeout)
        return self.store.job(job_id)

    def is_orphan(self, job: JobInfo) -> bool:
        """A job that no live thread or process is working on. The store already reads a row
        whose owning process is gone (killed, crashed, a reused pid, a lapsed worker lease) as
        "interrupted"; what only this process knows is whether its own thread for the job is
        still alive. A detached job that waits for a worker is not an orphan."""
        if job.status == "interrupted":
            return True
        if job.status not in ("queued", "running"):
            return False
        if job.detached:
            return False
        if job.pid == os.getpid():
            t = self._threads.get(job.id)
            return t is None or not t.is_alive()
        return job.pid is None

    def resume(self, job_id: int, *, background: bool = True,
               listener: Callable[[Progress], None] | None = None) -> JobInfo:
        """Continue a job whose process died; finished steps are reused, not redone."""
        job = self.store.job(job_id)
        if job.kind != self.kind:
            raise WorkbenchError(f"job {job_id} is a {job.kind} job, not a {self.kind} job")
        if job.status in ("done", "failed", "cancelled"):
            return job
        if not self.is_orphan(job):
            if job.detached and job.status == "queued":
                raise WorkbenchError(f"job {job_id} is queued for a worker: start one with "
                                     "`python -m workbench worker`")
            raise WorkbenchError(f"job {job_id} is still running (process {job.pid})")
        self.store.mark_interrupted([job_id])
        return self.start(job_id, background=background, listener=listener)

    def resume_interrupted(self) -> list[int]:
        """At start-up: resume every job left unfinished by a crash or restart (detached jobs
        are the workers' to take up again)."""
        orphans = [j.id for j in self.store.jobs(statuses=("queued", "running", "interrupted"))
                   if j.kind == self.kind and not j.detached and self.is_orphan(j)]
        self.store.mark_interrupted(orphans)
        for job_id in orphans:
            self.start(job_id)
        return orphans

    def follow(self, job_id: int, poll_s: float = 0.5) -> Iterator[JobInfo]:
        """Snapshots of a job until it ends (attach from the UI or another process)."""
        while True:
            job = self.store.job(job_id)
            yield job
            if job.status in ("done", "failed", "cancelled", "interrupted"):
                return
            time.sleep(poll_s)
