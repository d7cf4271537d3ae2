"""CLI commands for synthesis: `synthesize`, `artifacts`, `job-status`, `resume-job`, `cancel-job`,
`export-artifact`; registered into workbench/cli.py's parser by `add_commands(command)`.

`synthesize` runs the job in this process (a job row all the same, so `job-status` from another
shell can follow it and `resume-job` can finish it after a crash), shows progress on stderr and
prints the DESIGN.md §4 JSON with `--json` (with `--detach` it checks the budget, queues the
job for `worker` processes and prints `{"job_id"}`); its `engine` object says what ran it (model,
backend, kernels, precision, placement: engine/backends/describe.py). The placement flags are
app.py's (workbench/placement_flags.py). A job that does not fit is refused with its budget
(exit code 2) unless `--map-reduce` is given.

Does not know SQL or models: it calls the Workbench facade (workbench/synthesis/api.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

from workbench.placement_flags import add_placement_flags
from workbench.synthesis.templates import TEMPLATES


def add_commands(command) -> None:
    p = command("synthesize", cmd_synthesize,
                "run a synthesis job over a project's documents (coverage, pacing, ...)")
    p.add_argument("project")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--task", choices=sorted(TEMPLATES), help="a template")
    what.add_argument("--prompt", help="a free prompt (the `free` template)")
    p.add_argument("--question", default="", help="an extra question for a --task")
    p.add_argument("--docs", type=_ids, nargs="+", default=[], metavar="ID",
                   help="document ids, space- or comma-separated (default: all of the project's)")
    p.add_argument("--model", default=None,
                   help="model name or path, or a model added with add-model")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="tokens reserved for the answer")
    p.add_argument("--map-reduce", action="store_true",
                   help="run as map-reduce over anchor-aligned chunks when it does not fit")
    p.add_argument("--map-tokens", type=int, default=None, help="tokens per map step's notes")
    p.add_argument("--chunk-tokens", type=int, default=None,
                   help="largest map-step prompt in tokens (default: the model's window)")
    p.add_argument("--thinking", action="store_true", help="thinking mode, where supported")
    p.add_argument("--detach", action="store_true",
                   help="check the budget, queue the job for `worker` processes and return "
                        "its id at once")
    p.add_argument("--plan", choices=("auto", "steps", "whole"), default="auto",
                   help="short steps (small models) or the whole task in one call; auto "
                        "decides from the model (default)")
    add_placement_flags(p)
    p = command("artifacts", cmd_artifacts, "list a project's saved synthesis artifacts")
    p.add_argument("project")
    p = command("job-status", cmd_job_status, "show a job's state and progress")
    p.add_argument("job_id", type=int)
    p = command("resume-job", cmd_resume_job,
                "finish a job whose process died; finished steps are not redone")
    p.add_argument("job_id", type=int)
    add_placement_flags(p)
    p = command("cancel-job", cmd_cancel_job, "ask a running job to stop")
    p.add_argument("job_id", type=int)
    p = command("export-artifact", cmd_export_artifact,
                "write an artifact as md, csv (facts tables) or srt/edl (pacing markers)")
    p.add_argument("artifact_id", type=int)
    p.add_argument("--format", choices=("md", "csv", "srt", "edl"), default="md")
    p.add_argument("--out", type=Path, default=None, help="write it to this file")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")


def _ids(value: str) -> tuple[int, ...]:
    return tuple(int(v) for v in value.replace(" ", "").split(",") if v)


def _stderr_progress():
    state = {"line": ""}

    def show(p) -> None:
        if p.delta or p.thinking:
            return
        where = f" {p.step}/{p.steps_total}" if p.steps_total else ""
        line = f"[{p.phase}{where}] {p.message}".strip()
        if line != state["line"]:
            state["line"] = line
            print(line, file=sys.stderr, flush=True)
    return show


def _result(wb, answer) -> tuple[dict, str]:
    from workbench.synthesis.citations import unique

    art = answer.artifact
    data = {
        "text": art.text, "strategy": art.strategy,
        "budget": {k: art.budget[k] for k in ("window", "prompt_tokens", "reserved_output",
                                              "estimate") if k in art.budget},
        "usage": {"prompt_tokens": art.prompt_tokens,
                  "cached_tokens": art.extra.get("cached_tokens", 0),
                  "completion_tokens": art.completion_tokens},
        "seconds": round(art.seconds, 3), "ttft_s": art.extra.get("ttft_s"),
        "engine": art.extra.get("engine"), "plan": art.extra.get("plan"),
        "citations": [c.as_json() for c in unique(answer.citations)],
        "facts": art.extra.get("facts"),
        "artifact_id": art.id,
    }
    cited = [c for c in answer.citations if c.origin == "model"]
    bad = [c for c in cited if not c.verified]
    matched = len({c.sentence for c in answer.citations if c.origin == "matched"})
    plan = art.extra.get("plan") or {}
    steps = f" in {plan['steps']} steps" if plan.get("kind") == "steps" else ""
    text = (f"{art.text}\n\n-- {art.strategy}{steps}, {art.prompt_tokens} tokens in "
            f"({art.extra.get('cached_tokens', 0)} from cache), "
            f"{art.completion_tokens} out, {art.seconds:.1f} s; "
            f"{len(cited) - len(bad)} citations verified, {len(bad)} not; "
            f"{matched} sentences matched to passages; "
            f"artifact {art.id} (job {answer.job.id})")
    return data, text


def cmd_synthesize(wb, args) -> tuple[dict, str]:
    task = args.task or "free"
    prompt = args.prompt if args.prompt is not None else args.question
    docs = [i for group in args.docs for i in group]
    answer = wb.synthesize(
        args.project, task, prompt, docs, model=args.model,
        max_new_tokens=args.max_new_tokens, thinking=args.thinking,
        strategy="map-reduce" if args.map_reduce else "auto", map_tokens=args.map_tokens,
        chunk_tokens=args.chunk_tokens, detach=args.detach, plan=args.plan,
        progress=None if args.detach else _stderr_progress())
    if args.detach:
        return queued(answer)
    return _result(wb, answer)


def queued(job) -> tuple[dict, str]:
    """What a `--detach` command prints: the queued job's id."""
    return ({"job_id": job.id, "kind": job.kind, "status": job.status},
            f"job {job.id} ({job.kind}) queued: run `python -m workbench worker`, follow it "
            f"with `job-status {job.id}`")


def cmd_resume_job(wb, args) -> tuple[dict, str]:
    return _result(wb, wb.resume_job(args.job_id, progress=_stderr_progress()))


def _job(job) -> dict:
    return {"id": job.id, "project_id": job.project_id, "status": job.status,
            "phase": job.phase, "step": job.step, "steps_total": job.steps_total,
            "message": job.message, "error": job.error, "artifact_id": job.artifact_id,
            "task": job.request.get("task"), "created_at": job.created_at,
            "finished_at": job.finished_at, "partial_text": job.partial_text,
            "kind": job.kind, "detached": job.detached, "result": job.result,
            "worker": {"id": job.worker_id, "host": job.owner_host, "pid": job.pid,
                       "heartbeat_at": job.heartbeat_at, "lease_expires_at":
                       job.lease_expires_at} if job.worker_id else None}


def cmd_job_status(wb, args) -> tuple[dict, str]:
    job = wb.job_status(args.job_id)
    data = _job(job)
    data["steps_done"] = sorted(wb.jobs.store.steps(job.id))
    where = f" step {job.step} of {job.steps_total}" if job.steps_total else ""
    text = f"job {job.id}: {job.status} ({job.phase}{where}) {job.message}".rstrip()
    if job.error:
        text += f"\nerror: {job.error}"
    return data, text


def cmd_cancel_job(wb, args) -> tuple[dict, str]:
    job = wb.cancel_job(args.job_id)
    return _job(job), f"job {job.id}: cancel requested ({job.status})"


def cmd_artifacts(wb, args) -> tuple[list, str]:
    arts = wb.artifacts(args.project)
    data = [{"id": a.id, "job_id": a.job_id, "task": a.task, "title": a.title,
             "model": a.model, "strategy": a.strategy, "prompt_tokens": a.prompt_tokens,
             "completion_tokens": a.completion_tokens, "seconds": a.seconds,
             "citations": len(a.citations),
             "verified": sum(1 for c in a.citations if c["verified"]),
             "created_at": a.created_at} for a in arts]
    text = "\n".join(f"[{a['id']}] {a['title']} · {a['model']} · {a['strategy']} · "
                     f"{a['verified']}/{a['citations']} citations verified" for a in data)
    return data, text or "no artifacts yet"


def cmd_export_artifact(wb, args) -> tuple[dict, str]:
    body = wb.export_artifact(args.artifact_id, args.format, out=args.out,
                              overwrite=args.force)
    if args.out:
        return {"artifact_id": args.artifact_id, "path": str(args.out)}, f"wrote {args.out}"
    return {"artifact_id": args.artifact_id, "format": args.format, "text": body}, body
