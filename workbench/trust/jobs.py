"""Trust checks as jobs: the "trust" job kind (registered with jobs/registry.py, so a thread
here and a `worker` process run it alike) and the manager the Trust tab submits through.

Why the synthesis JobManager and not a runner of its own: a job is the same thing whatever it
runs (a row with status, progress and a cancel flag, finished steps saved as they complete, a
thread or a worker, an orphan check after a crash). Only what runs and what it leaves behind
differ: rows carry kind="trust", every answered cell is a job step (so a resumed check asks
only the cells that were not answered), and the result is a trust_runs row.

Does not know SQL (jobs_store.py, trust_store.py) or models (`backend_for(model)` is given).
"""
from __future__ import annotations

from typing import Callable

from workbench.jobs.manager import JobManager
from workbench.jobs.registry import JobContext, Outcome, register
from workbench.library.jobs_store import JobInfo
from workbench.library.trust_store import TrustRunInfo, TrustStore
from workbench.synthesis.runner import Progress
from workbench.trust.check import run_check
from workbench.trust.runner import TrustProgress, TrustRequest, plan_trust

KIND = "trust"


def run_job(ctx: JobContext) -> Outcome:
    def progress(p: TrustProgress) -> None:
        ctx.progress(Progress("trust", p.step, p.steps_total, p.message))

    request = TrustRequest.from_dict(ctx.job.request)
    result, run = run_check(ctx.library, ctx.backend_for(request.model), request,
                            progress=progress, should_stop=ctx.should_stop, steps=ctx.steps,
                            job_id=ctx.job.id)
    return Outcome(result=result.as_json(run.id), value=result)


register(KIND, run_job)


def prepare(request: TrustRequest, backend, library) -> dict:
    """Plan now (a bad length or an empty project raises before any job exists)."""
    planned = plan_trust(request, backend, library)
    return {"lengths": planned.lengths, "cells": len(planned.cells),
            "prompt_tokens": planned.prompt_tokens, "window": planned.window,
            "notes": planned.notes}


class TrustJobManager(JobManager):
    kind = KIND

    def submit(self, request: TrustRequest, *, background: bool = True,
               listener: Callable[[Progress], None] | None = None,
               detach: bool = False) -> JobInfo:
        """Plan now, then create the job and run it in a thread (or in this thread if not
        `background`), or with `detach` leave it queued for a worker."""
        plan_row = prepare(request, self.backend_for(request.model), self.library)
        return self.enqueue(request.project, request.to_dict(), plan_row, background=background,
                            listener=listener, detach=detach)

    def trust_jobs(self, project_id: int | None = None) -> list[JobInfo]:
        return [j for j in self.store.jobs(project_id) if j.kind == KIND]

    def result(self, job_id: int) -> TrustRunInfo | None:
        """The stored check a finished job produced, or None."""
        store = TrustStore(self.store.engine)
        return store.for_job(job_id)
