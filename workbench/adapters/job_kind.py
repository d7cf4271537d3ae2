"""The "training" job kind: a LoRA training run as a job row, so `train-adapter --detach`
queues it for a `worker` process (registered with jobs/registry.py on import).

Why so little here: a run's checkpoint is already the adapter row plus its checkpoint files,
and `train_adapter` resumes from the newest one on the next identical request, so a worker
that takes over a job whose worker died just runs the same request again. Progress goes to the
job row (step of steps, the loss); `should_stop` ends the run with a checkpoint written.

Does not know threads, queues, SQL or the training internals (service.py).
"""
from __future__ import annotations

import json
from dataclasses import asdict

from engine.errors import Cancelled

from workbench.adapters.dataset import DatasetSettings
from workbench.adapters.service import TrainRequest, train_adapter
from workbench.adapters.training import TrainSettings
from workbench.jobs.registry import JobContext, Outcome, register
from workbench.synthesis.runner import Progress

KIND = "training"


def request_dict(request: TrainRequest, model: str | None) -> dict:
    d = asdict(request)
    d["train"], d["model"] = request.train.to_dict(), model
    for key in ("doc_ids", "section_ids"):
        d[key] = list(d[key]) if d[key] is not None else None
    return d


def request_from(data: dict) -> TrainRequest:
    ids = {k: tuple(data[k]) if data.get(k) is not None else None
           for k in ("doc_ids", "section_ids")}
    return TrainRequest(project=data["project"], name=data.get("name"),
                        train=TrainSettings.from_dict(data.get("train", {})),
                        data=DatasetSettings(**data.get("data", {})),
                        eval_prompts=data["eval_prompts"],
                        eval_new_tokens=data["eval_new_tokens"], **ids)


def run_job(ctx: JobContext) -> Outcome:
    request = request_from(ctx.job.request)
    settings = ctx.settings.with_overrides(model=ctx.job.request.get("model"))

    def progress(r) -> None:
        ctx.progress(Progress("training", r.step, r.steps_total, f"loss {r.loss:.4f}"))

    result = train_adapter(ctx.library, settings, request, progress=progress,
                           should_stop=ctx.should_stop)
    if result.get("status") == "cancelled":
        raise Cancelled("training cancelled; its newest checkpoint is kept")
    return Outcome(result=json.loads(json.dumps(result, default=str)), value=result)


register(KIND, run_job)
