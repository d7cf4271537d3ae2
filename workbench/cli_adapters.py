"""Adapter commands: `train-adapter`, `adapters`, `eval-adapter`, `use-checkpoint`,
`export-adapter`, `adapter-scaleout`.

`train-adapter PROJECT [--docs ID...] [--steps N] [--rank R] [--json]` trains a LoRA adapter on
the project's `style` documents (or the chosen ones); with `--json` it prints DESIGN.md §4's
{"adapter", "path", "steps", "eval": {"loss_before", "loss_after"}} plus details. Running the
same command again after a crash or Ctrl-C resumes from the newest checkpoint. Progress is a
tqdm bar on stderr showing the loss. `--detach` queues the run as a "training" job for
`worker` processes and prints `{"job_id"}`; `job-status` then shows the same object under
"result", and a worker that takes over a killed one resumes from the newest checkpoint.

Does not know SQL, torch or PEFT (workbench/adapters); cli.py registers it with one line.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from workbench.adapters.dataset import DatasetSettings
from workbench.adapters.training import TrainSettings

_TRAIN = TrainSettings()
_DATA = DatasetSettings()


def _ids(values: list[str]) -> list[int]:
    return [int(v) for item in values for v in item.split(",") if v.strip()]


def add_commands(command) -> None:
    """Register the adapter commands with cli.py's `command(name, run, help)` helper."""
    p = command("train-adapter", cmd_train_adapter,
                "train (or resume) a house-style LoRA adapter on the project's style documents")
    p.add_argument("project")
    p.add_argument("--docs", nargs="+", default=[], metavar="ID",
                   help="documents to train on (default: those with role 'style')")
    p.add_argument("--steps", type=int, default=_TRAIN.steps)
    p.add_argument("--rank", type=int, default=_TRAIN.rank)
    p.add_argument("--alpha", type=int, default=None, help="LoRA alpha (default: 2 x rank)")
    p.add_argument("--lr", type=float, default=_TRAIN.learning_rate)
    p.add_argument("--batch-size", type=int, default=_TRAIN.batch_size)
    p.add_argument("--max-tokens", type=int, default=_DATA.max_tokens,
                   help="tokens per training example")
    p.add_argument("--checkpoint-every", type=int, default=_TRAIN.checkpoint_every)
    p.add_argument("--layers", type=int, default=None,
                   help="train only the top N layers (faster on CPU; default: all)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--name", default=None, help="adapter name (default: style-N)")
    p.add_argument("--model", default=None, help="base model (default: settings)")
    p.add_argument("--eval-prompts", type=int, default=2)
    p.add_argument("--eval-tokens", type=int, default=40)
    p.add_argument("--detach", action="store_true",
                   help="queue the run as a job for `worker` processes and return its id")
    p = command("adapters", cmd_adapters, "list a project's adapters")
    p.add_argument("project")
    p = command("eval-adapter", cmd_eval_adapter,
                "held-out loss and side-by-side samples for an adapter (or one checkpoint)")
    p.add_argument("project")
    p.add_argument("name")
    p.add_argument("--checkpoint", type=int, default=None, metavar="STEP")
    p.add_argument("--model", default=None, help="base model (default: settings)")
    p = command("use-checkpoint", cmd_use_checkpoint,
                "make one of an adapter's checkpoints the one in use")
    p.add_argument("project")
    p.add_argument("name")
    p.add_argument("step", type=int)
    p = command("export-adapter", cmd_export_adapter, "write an adapter to a zip")
    p.add_argument("project")
    p.add_argument("name")
    p.add_argument("out", type=Path, metavar="OUT.zip")
    p.add_argument("--force", action="store_true", help="replace OUT.zip if it exists")
    p = command("adapter-scaleout", cmd_scaleout,
                "write an accelerate (FSDP) config and command for multi-GPU training")
    p.add_argument("project")
    p.add_argument("name")
    p.add_argument("out", type=Path, metavar="DIR")
    p.add_argument("--gpus", type=int, default=8)


def cmd_train_adapter(wb, args) -> tuple[Any, str]:
    from tqdm import tqdm

    from workbench.adapters.service import TrainRequest, train_adapter

    settings = wb.settings.with_overrides(model=args.model)
    wb.library.get_project(args.project)  # fail fast, before loading anything
    train = TrainSettings(steps=args.steps, rank=args.rank, alpha=args.alpha or 2 * args.rank,
                          learning_rate=args.lr, batch_size=args.batch_size,
                          checkpoint_every=args.checkpoint_every, layers=args.layers,
                          threads=args.threads)
    request = TrainRequest(project=args.project, doc_ids=tuple(_ids(args.docs)) or None,
                           name=args.name, train=train,
                           data=DatasetSettings(max_tokens=args.max_tokens),
                           eval_prompts=args.eval_prompts, eval_new_tokens=args.eval_tokens)
    if args.detach:
        from workbench.adapters.job_kind import KIND, request_dict
        from workbench.cli_synthesis import queued

        return queued(wb.jobs.enqueue(args.project, request_dict(request, args.model),
                                      {"steps": args.steps}, detach=True, kind=KIND))
    bar = tqdm(total=args.steps, unit="step", file=sys.stderr, leave=False, disable=None)

    def started(info: dict) -> None:
        verb = "resuming" if info["resumed"] else "training"
        print(f"{verb} adapter {info['adapter']} in {info['path']}", file=sys.stderr,
              flush=True)

    def progress(r) -> None:
        bar.n = r.step
        bar.set_postfix_str(f"loss {r.loss:.3f}" + (f", saved step {r.checkpoint}"
                                                    if r.checkpoint else ""), refresh=True)

    try:
        result = train_adapter(wb.library, settings, request, progress=progress,
                               on_start=started)
    finally:
        bar.close()
    ev = result["eval"]
    text = f"adapter {result['adapter']}: {result['steps']} steps ({result['status']})"
    if result.get("resumed_from"):
        text += f", resumed from step {result['resumed_from']}"
    if ev:
        text += (f"\nheld-out loss {ev['loss_before']:.4f} -> {ev['loss_after']:.4f} "
                 f"(perplexity {ev['perplexity_before']:.2f} -> {ev['perplexity_after']:.2f})"
                 f"\n{result['path']}")
    return result, text


def cmd_adapters(wb, args) -> tuple[Any, str]:
    from workbench.adapters.service import list_adapters

    rows = list_adapters(wb.library, args.project)
    data = [{"name": a.name, "status": a.status, "path": a.path, "base_model": a.base_model,
             "base_hash": a.base_hash, "dataset_hash": a.dataset_hash,
             "hyperparameters": a.hyperparameters, "step": a.step,
             "steps_total": a.steps_total, "checkpoint": a.checkpoint,
             "loss_before": a.metrics.get("loss_before"),
             "loss_after": a.metrics.get("loss_after"),
             "checkpoints": a.metrics.get("checkpoints", []), "created_at": a.created_at,
             "finished_at": a.finished_at} for a in rows]
    lines = [f"{d['name']}\t{d['status']}\tstep {d['step']}/{d['steps_total']}\t"
             f"loss {d['loss_before']} -> {d['loss_after']}" for d in data]
    return data, "\n".join(lines) or "no adapters yet: python -m workbench train-adapter PROJECT"


def cmd_eval_adapter(wb, args) -> tuple[Any, str]:
    from workbench.adapters.service import evaluate_adapter

    settings = wb.settings.with_overrides(model=args.model)
    result = evaluate_adapter(wb.library, settings, args.project, args.name, args.checkpoint)
    ev = result["eval"]
    lines = [f"{args.name} (step {result['checkpoint']}): held-out loss "
             f"{ev['loss_before']:.4f} -> {ev['loss_after']:.4f}"]
    for s in result["samples"]:
        lines += [f"\nprompt: {s['prompt']}", f"  base:    {s['base']}",
                  f"  adapter: {s['adapter']}"]
    return result, "\n".join(lines)


def cmd_use_checkpoint(wb, args) -> tuple[Any, str]:
    from workbench.adapters.service import use_checkpoint

    info = use_checkpoint(wb.library, args.project, args.name, args.step)
    return ({"adapter": info.name, "checkpoint": info.checkpoint, "path": info.path},
            f"{info.name} now uses checkpoint {info.checkpoint}")


def cmd_export_adapter(wb, args) -> tuple[Any, str]:
    from workbench.adapters.service import export_adapter

    out = export_adapter(wb.library, args.project, args.name, args.out, args.force)
    return {"adapter": args.name, "path": str(out)}, f"exported {args.name} to {out}"


def cmd_scaleout(wb, args) -> tuple[Any, str]:
    from workbench.adapters.scaleout import write_scaleout
    from workbench.adapters.service import get_adapter

    info = get_adapter(wb.library, args.project, args.name)
    plan = write_scaleout(info, args.out, gpus=args.gpus)
    return plan, f"wrote {plan['config']}\nrun on the GPU node:\n  {plan['command']}"
