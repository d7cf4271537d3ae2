"""`python -m workbench trust PROJECT [--lengths ...] [--depths ...] [--seed N] [--json]`.

Runs a trust check on the project's own documents with the chosen model, stores the result
(per project, backend and model) and prints the grid, or with `--json` the object of
DESIGN.md §4: {"score", "cells": [{"length", "depth", "accuracy"}, ...]} plus what it cost.
`--heatmap OUT.png` writes the heat map too. `--detach` plans the check (a bad length fails
now), queues it as a "trust" job for `worker` processes and prints `{"job_id"}`; `job-status`
then shows the same object under "result". Progress is a tqdm bar on stderr; Ctrl-C stops
between events and stores nothing.

Does not know SQL or how the grid runs (workbench/trust); cli.py registers it with one line.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.placement_flags import add_placement_flags
from workbench.trust.runner import (DEFAULT_DEPTHS, DEFAULT_LENGTHS, DEFAULT_MAX_NEW_TOKENS,
                                    TrustRequest)


def _list(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list, e.g. 0,50,100")
    return items


def _depths(text: str) -> list[float]:
    try:
        return [float(t.rstrip("%")) for t in _list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"depths are percentages, e.g. 0,50,100 (got {text!r})")


def add_commands(command) -> None:
    """Register `trust` with cli.py's `command(name, run, help)` helper."""
    p = command("trust", cmd_trust,
                "check how reliably the model finds and cites planted facts in the project")
    p.add_argument("project")
    p.add_argument("--lengths", type=_list, default=list(DEFAULT_LENGTHS),
                   help="prompt lengths: token counts (1000,3000) or shares of what the model "
                        "can read (25%%,50%%); default 25%%,50%%,75%%,100%%")
    p.add_argument("--depths", type=_depths, default=list(DEFAULT_DEPTHS),
                   help="needle depths in percent of the haystack; default 0,25,50,75,100")
    p.add_argument("--seed", type=int, default=0, help="same seed, same needles and positions")
    p.add_argument("--needles", type=int, default=1, help="facts asked together per prompt")
    p.add_argument("--trials", type=int, default=1, help="prompts per cell")
    p.add_argument("--docs", type=int, nargs="+", default=[], metavar="ID",
                   help="documents to build the haystack from (default: all)")
    p.add_argument("--model", default=None,
                   help="model name or path, or a model added with add-model (default: settings)")
    p.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS)
    p.add_argument("--heatmap", type=Path, default=None, metavar="OUT.png",
                   help="also write the heat map as a PNG")
    p.add_argument("--detach", action="store_true",
                   help="plan the check, queue it for `worker` processes and return its id")
    add_placement_flags(p)


def cmd_trust(wb, args) -> tuple[Any, str]:
    from tqdm import tqdm

    from workbench.trust.check import run_check

    library = wb.library
    library.get_project(args.project)  # fail fast, before loading a model
    request = TrustRequest(
        project=args.project, lengths=tuple(args.lengths), depths=tuple(args.depths),
        seed=args.seed, needles=args.needles, trials=args.trials,
        max_new_tokens=args.max_new_tokens, document_ids=tuple(args.docs), model=args.model)
    if args.detach:
        return _queue(wb, request)
    backend = wb.model_backend(args.model)
    bar = tqdm(total=0, unit="cell", file=sys.stderr, leave=False, disable=None)

    def progress(p) -> None:
        if p.steps_total:
            bar.total, bar.n = p.steps_total, p.step
        bar.set_postfix_str(p.message, refresh=True)

    try:
        result, run = run_check(library, backend, request, progress=progress)
    finally:
        bar.close()
    if args.heatmap is not None:
        from workbench.trust.heatmap import render_png

        try:
            args.heatmap.write_bytes(render_png(result.cells, _title(result)))
        except OSError as exc:
            raise WorkbenchError(f"could not write the heat map to {args.heatmap}: "
                                 f"{exc.strerror or exc}") from exc
    return result.as_json(run.id), _text(result, args.heatmap)


def _queue(wb, request: TrustRequest) -> tuple[Any, str]:
    from workbench.cli_synthesis import queued
    from workbench.trust.jobs import TrustJobManager

    manager = TrustJobManager(wb.library, wb.jobs.store, wb.model_backend, wb.settings)
    return queued(manager.submit(request, detach=True))


def _title(result) -> str:
    return (f"{result.request.project}: {result.model} ({result.backend}), "
            f"{result.score:.0%} found, {result.cited_score:.0%} cited right")


def _text(result, heatmap: Path | None) -> str:
    lengths = sorted({c.length for c in result.cells})
    depths = sorted({c.depth for c in result.cells})
    acc = {(c.length, c.depth): c.accuracy for c in result.cells}
    lines = [_title(result), "depth " + "".join(f"{n:>9,}" for n in lengths)]
    for d in depths:
        row = "".join(f"{acc[(n, d)]:>9.0%}" if (n, d) in acc else " " * 9 for n in lengths)
        lines.append(f"{d:>4g}% {row}")
    lines.extend(f"note: {n}" for n in result.notes)
    lines.append(f"{result.prompt_tokens:,} prompt + {result.completion_tokens:,} answer tokens "
                 f"in {result.seconds:.1f} s")
    if heatmap is not None:
        lines.append(f"heat map: {heatmap}")
    return "\n".join(lines)
