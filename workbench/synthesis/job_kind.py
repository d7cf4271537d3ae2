"""The "synthesis" job kind: plan before a job exists, run it through the runner, save the
artifact. Registered with jobs/registry.py on import, so the UI's threads, the CLI and
`worker` processes run synthesis jobs through this one function.

Does not know threads, queues or SQL (it calls the JobStore it is given).
"""
from __future__ import annotations

from engine.errors import Cancelled

from workbench.jobs.registry import JobContext, Outcome, register
from workbench.synthesis.runner import SynthesisRequest, SynthesisResult, plan, run_synthesis

KIND = "synthesis"


def prepare(request: SynthesisRequest, backend, library) -> tuple[object, dict]:
    """The plan and the row's plan summary; raises BudgetExceeded (before any job exists)
    when the documents do not fit and map-reduce was not chosen."""
    planned = plan(request, backend, library)
    if request.strategy != "map-reduce" and not planned.budget.fits:
        from workbench.synthesis.budget import refuse

        raise refuse(planned.budget)
    return planned, {"budget": planned.budget.as_dict(), "strategy": request.strategy,
                     "plan": planned.plan_json}


def run_job(ctx: JobContext) -> Outcome:
    request = SynthesisRequest.from_dict(ctx.job.request)
    result = run_synthesis(request, ctx.backend_for(request.model), ctx.library,
                           progress=ctx.progress, should_stop=ctx.should_stop,
                           steps=ctx.steps, planned=ctx.planned)
    if ctx.should_stop():  # cancelled, or a worker that lost the job: save nothing
        raise Cancelled("the job was stopped before its answer was saved")
    artifact = save_artifact(ctx.store, ctx.job.project_id, ctx.job.id, result)
    return Outcome(artifact_id=artifact.id, value=result)


def save_artifact(store, project_id: int, job_id: int | None, result: SynthesisResult):
    return store.save_artifact(
        project_id, job_id, task=result.task, title=result.title, backend=result.backend,
        model=result.model, params=result.params, document_ids=result.document_ids,
        strategy=result.strategy, budget=result.budget.as_dict(), text=result.text,
        thinking=result.thinking, prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens, seconds=result.seconds, cost=result.cost,
        citations=[c.as_record() for c in result.citations],
        extra=result.extra)


register(KIND, run_job)
