"""Trust checks as background jobs: the job runner's threads, cancel flag, saved steps and
resume, with the trust grid as the work and a trust_runs row as the result.

Why a subclass of the synthesis JobManager: a job is the same thing whatever it runs (a row
with status, progress and a cancel flag, finished steps saved as they complete, a thread, an
orphan check after a crash). Only what runs and what it leaves behind differ, so this class
overrides `submit` and `_work` and keeps the rest. Rows carry kind="trust"; every answered cell
is a job step, so a resumed check asks only the cells that were not answered.

Does not know SQL (jobs_store.py, trust_store.py) or models (`backend_for(model)` is given).
"""
from __future__ import annotations

from typing import Callable

from workbench.jobs.manager import DbSteps, JobManager, JobReporter
from workbench.library.jobs_store import JobInfo
from workbench.library.trust_store import TrustRunInfo, TrustStore
from workbench.synthesis.runner import Progress
from workbench.trust.check import run_check
from workbench.trust.runner import TrustProgress, TrustRequest, plan_trust

KIND = "trust"


class TrustJobManager(JobManager):
    kind = KIND

    def submit(self, request: TrustRequest, *, background: bool = True,
               listener: Callable[[Progress], None] | None = None) -> JobInfo:
        """Plan now (a bad length or an empty project raises before any job exists), then
        create the job and run it in a thread (or in this thread if not `background`)."""
        planned = plan_trust(request, self.backend_for(request.model), self.library)
        project = self.library.get_project(request.project)
        job = self.store.create_job(project.id, request.to_dict(), kind=KIND)
        self.store.set_plan(job.id, {"lengths": planned.lengths, "cells": len(planned.cells),
                                     "prompt_tokens": planned.prompt_tokens,
                                     "window": planned.window, "notes": planned.notes})
        return self.start(job.id, background=background, listener=listener)

    def _work(self, job: JobInfo, reporter: JobReporter):
        def progress(p: TrustProgress) -> None:
            reporter(Progress("trust", p.step, p.steps_total, p.message))

        request = TrustRequest.from_dict(job.request)
        result, _ = run_check(self.library, self.backend_for(request.model), request,
                              progress=progress, should_stop=reporter.should_stop,
                              steps=DbSteps(self.store, job.id), job_id=job.id)
        return result, None

    def trust_jobs(self, project_id: int | None = None) -> list[JobInfo]:
        return [j for j in self.store.jobs(project_id) if j.kind == KIND]

    def result(self, job_id: int) -> TrustRunInfo | None:
        """The stored check a finished job produced, or None."""
        store = TrustStore(self.store.engine)
        return store.for_job(job_id)
