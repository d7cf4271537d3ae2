"""The job runner: synthesis jobs in background threads, with their state in the database.

A job is a row (request, status, progress, streamed text) plus the pure runner function from
workbench/synthesis/runner.py, given `progress` and `should_stop` callbacks that write and read
that row. Finished map/reduce steps are saved as they complete, so `resume()` after a crash,
a kill or a restart reruns only the missing steps. Cancel is a flag in the row, so a CLI in
another process can cancel a job the UI started, and the other way round.

Does not know SQL (workbench/library/jobs_store.py) or models (a `backend_for(model)` callable
is passed in).
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable, Iterator

from engine.errors import Cancelled, EngineError

from workbench.errors import WorkbenchError
from workbench.library.jobs_store import JobInfo, JobStore
from workbench.synthesis.mapreduce import StepResult
from workbench.synthesis.runner import (Progress, SynthesisRequest, SynthesisResult, plan,
                                        run_synthesis)

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
        self.store.save_step(self.job_id, key, result.label, result.text, result.prompt_tokens,
                             result.completion_tokens, result.seconds, os.getpid())
        self.done[key] = result


class JobReporter:
    """Turns runner progress into throttled row updates and answers `should_stop`."""

    def __init__(self, store: JobStore, job_id: int, listener=None):
        self.store, self.job_id, self.listener = store, job_id, listener
        self.text, self.last_write, self.last_poll, self.stop = "", 0.0, 0.0, False
        self.state = Progress("queued")

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
        now = time.monotonic()
        if changed or now - self.last_write >= WRITE_EVERY_S:
            self.last_write = now
            self.store.progress(self.job_id, self.state.phase, self.state.step,
                                self.state.steps_total, self.state.message, self.text)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self.stop and now - self.last_poll >= CANCEL_POLL_S:
            self.last_poll = now
            self.stop = self.store.cancel_requested(self.job_id)
        return self.stop


class JobManager:
    """Runs one kind of job; subclasses (trust checks) set `kind` and override `submit`/`_work`."""

    kind = "synthesis"

    def __init__(self, library, store: JobStore, backend_for: Callable[[str | None], object]):
        self.library, self.store, self.backend_for = library, store, backend_for
        self._threads: dict[int, threading.Thread] = {}
        self._planned: dict[int, object] = {}  # plans made by submit(), used once by _work
        self._lock = threading.Lock()

    def submit(self, request: SynthesisRequest, *, background: bool = True,
               listener: Callable[[Progress], None] | None = None) -> JobInfo:
        """Check the budget now (a refusal raises BudgetExceeded before any job exists), then
        create the job and run it in a thread (or in this thread if not `background`)."""
        backend = self.backend_for(request.model)
        planned = plan(request, backend, self.library)
        if request.strategy != "map-reduce" and not planned.budget.fits:
            from workbench.synthesis.budget import refuse

            raise refuse(planned.budget)
        project = self.library.get_project(request.project)
        job = self.store.create_job(project.id, request.to_dict(), kind=self.kind)
        self.store.set_plan(job.id, {"budget": planned.budget.as_dict(),
                                     "strategy": request.strategy})
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
                t = threading.Thread(target=self._run, args=(job_id, listener),
                                     name=f"longhand-job-{job_id}", daemon=True)
                self._threads[job_id] = t
                t.start()
                return job
        self._run(job_id, listener)
        return self.store.job(job_id)

    def _run(self, job_id: int, listener=None):
        """Run the job's work in this thread and always leave a final state behind."""
        job = self.store.job(job_id)
        reporter = JobReporter(self.store, job_id, listener)
        try:
            result, artifact_id = self._work(job, reporter)
        except Cancelled:
            self.store.finish(job_id, "cancelled")
            return None
        except (WorkbenchError, EngineError) as exc:
            self.store.finish(job_id, "failed", str(exc))
            return None
        except Exception as exc:  # a job thread must always leave a final state behind
            self.store.finish(job_id, "failed", f"{type(exc).__name__}: {exc}")
            return None
        self.store.finish(job_id, "done", artifact_id=artifact_id)
        return result

    def _work(self, job: JobInfo, reporter: JobReporter) -> tuple[SynthesisResult, int | None]:
        """The synthesis itself; returns the result and the id of the artifact it saved."""
        request = SynthesisRequest.from_dict(job.request)
        result = run_synthesis(request, self.backend_for(request.model), self.library,
                               progress=reporter, should_stop=reporter.should_stop,
                               steps=DbSteps(self.store, job.id),
                               planned=self._planned.pop(job.id, None))
        return result, save_artifact(self.store, job.project_id, job.id, result).id

    def cancel(self, job_id: int) -> JobInfo:
        return self.store.request_cancel(job_id)

    def wait(self, job_id: int, timeout: float | None = None) -> JobInfo:
        t = self._threads.get(job_id)
        if t is not None:
            t.join(timeout)
        return self.store.job(job_id)

    def is_orphan(self, job: JobInfo) -> bool:
        """A job that no live thread or process is working on. The store already reads a row
        whose owning process is gone (killed, crashed, a reused pid) as "interrupted"; what
        only this process knows is whether its own thread for the job is still alive."""
        if job.status == "interrupted":
            return True
        if job.status not in ("queued", "running"):
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
            raise WorkbenchError(f"job {job_id} is still running (process {job.pid})")
        self.store.mark_interrupted([job_id])
        return self.start(job_id, background=background, listener=listener)

    def resume_interrupted(self) -> list[int]:
        """At start-up: resume every job left unfinished by a crash or restart."""
        orphans = [j.id for j in self.store.jobs(statuses=("queued", "running", "interrupted"))
                   if j.kind == self.kind and self.is_orphan(j)]
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


def save_artifact(store: JobStore, project_id: int, job_id: int | None,
                  result: SynthesisResult):
    return store.save_artifact(
        project_id, job_id, task=result.task, title=result.title, backend=result.backend,
        model=result.model, params=result.params, document_ids=result.document_ids,
        strategy=result.strategy, budget=result.budget.as_dict(), text=result.text,
        thinking=result.thinking, prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens, seconds=result.seconds, cost=result.cost,
        citations=[c.as_record() for c in result.citations],
        extra=result.extra)
