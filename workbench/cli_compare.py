"""CLI commands for comparing models: `compare`, `compare-blind`, `vote`, `leaderboard`,
`export-comparison`; registered into workbench/cli.py's parser by `add_commands(command)`.

    compare PROJECT (--task T | --prompt TEXT) --models a,b[,c] [--docs ID ...]
            [--max-new-tokens N]
    compare-blind ID          answers as A/B/... with model names masked
    vote ID --winner A|B|tie|both-bad [--note TEXT]   records it, then reveals the names
    leaderboard PROJECT       wins, losses, ties, Elo rating, median time and cost per model
    export-comparison ID --format md|csv|json [--out FILE [--force]]

Does not know SQL or models: it calls the Workbench facade (workbench/compare/api.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.cli_synthesis import _ids, _stderr_progress
from workbench.compare.export import FORMATS
from workbench.synthesis.templates import TEMPLATES


def _models(value: str) -> list[str]:
    return [m.strip() for m in value.split(",") if m.strip()]


def add_commands(command) -> None:
    p = command("compare", cmd_compare, "run the same job on several models, side by side")
    p.add_argument("project")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--task", choices=sorted(TEMPLATES), help="a template")
    what.add_argument("--prompt", help="a free prompt (the `free` template)")
    p.add_argument("--question", default="", help="an extra question for a --task")
    p.add_argument("--models", type=_models, required=True,
                   help="comma-separated model names (local, embedded or added with add-model)")
    p.add_argument("--docs", type=_ids, nargs="+", default=[], metavar="ID",
                   help="document ids, space- or comma-separated (default: all of the project's)")
    p.add_argument("--one-at-a-time", action="store_true",
                   help="run every model in turn (default: models on different machines at "
                        "the same time)")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="tokens reserved for each answer")
    p = command("compare-blind", cmd_compare_blind,
                "show a comparison's answers as A/B/... with the model names masked")
    p.add_argument("comparison_id", type=int)
    p = command("vote", cmd_vote, "vote on a blind comparison; then the names are shown")
    p.add_argument("comparison_id", type=int)
    p.add_argument("--winner", required=True, help="A, B, ..., tie or both-bad")
    p.add_argument("--note", default="", help="why, in a few words")
    p = command("leaderboard", cmd_leaderboard, "the project's models ranked by blind votes")
    p.add_argument("project")
    p = command("export-comparison", cmd_export_comparison,
                "write a comparison as md, csv or json")
    p.add_argument("comparison_id", type=int)
    p.add_argument("--format", choices=FORMATS, default="md")
    p.add_argument("--out", type=Path, default=None, help="write it to this file")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")


def cmd_compare(wb, args) -> tuple[Any, str]:
    task = args.task or "free"
    prompt = args.prompt if args.prompt is not None else args.question
    docs = [i for group in args.docs for i in group]
    data = wb.compare(args.project, task, prompt, docs, models=args.models,
                      max_new_tokens=args.max_new_tokens, progress=_stderr_progress(),
                      parallel=not args.one_at_a_time)
    lines = [f"comparison {data['comparison_id']} ({task}); ran together: " +
             " | ".join(", ".join(group) for group in data["schedule"])]
    for r in data["rows"]:
        if r.get("error"):
            lines.append(f"  {r['model']}: error: {r['error']}")
            continue
        lines.append(f"  {r['model']}: {r['seconds']} s, ttft {r['ttft_s']} s, "
                     f"{r['prompt_tokens']} in ({r['cached_tokens']} cached), "
                     f"{r['completion_tokens']} out, {r['citations_verified']}/"
                     f"{r['citations']} citations verified, trust {r['trust_score']}, "
                     f"artifact {r['artifact_id']}")
    lines.append(f"blind view: python -m workbench compare-blind {data['comparison_id']}")
    return data, "\n".join(lines)


def cmd_compare_blind(wb, args) -> tuple[Any, str]:
    data = wb.compare_blind(args.comparison_id)
    parts = [f"comparison {data['comparison_id']} ({data['task']}), blind"]
    parts += [f"\n=== {a['label']} ===\n{a['text']}" for a in data["answers"]]
    labels = "|".join(a["label"] for a in data["answers"])
    parts.append(f"\nvote: python -m workbench vote {data['comparison_id']} "
                 f"--winner {labels}|tie|both-bad")
    return data, "\n".join(parts)


def cmd_vote(wb, args) -> tuple[Any, str]:
    data = wb.vote(args.comparison_id, args.winner, args.note)
    shown = ", ".join(f"{k} = {v}" for k, v in data["revealed"].items())
    return data, f"recorded {data['winner']}; {shown}"


def cmd_leaderboard(wb, args) -> tuple[Any, str]:
    data = wb.leaderboard(args.project)
    lines = [f"{data['project']}: {data['votes']} votes (Elo)"]
    lines += [f"  {r['rating']:>7} {r['model']}: {r['wins']} won, {r['losses']} lost, "
              f"{r['ties']} tied, median {r['median_seconds']} s" for r in data["rows"]]
    return data, "\n".join(lines)


def cmd_export_comparison(wb, args) -> tuple[Any, str]:
    body = wb.export_comparison(args.comparison_id, args.format, out=args.out,
                                overwrite=args.force)
    if args.out:
        return {"comparison_id": args.comparison_id, "path": str(args.out)}, f"wrote {args.out}"
    return {"comparison_id": args.comparison_id, "format": args.format, "text": body}, body
