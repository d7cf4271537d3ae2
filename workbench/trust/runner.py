"""The trust check runner: a grid of context lengths x needle depths, one question per cell
(or several, asked together, with `needles` > 1), scored for the fact and for its citation.

`plan_trust()` decides everything before the model runs: lengths in tokens (a percentage of
what the model can take, i.e. its window less the reserved answer, capped by the size of the
library; or absolute counts), each cell's needles (from the seed) and haystack, and the exact
prompt tokens. Same request, same library and same tokenizer: same needles and positions.
`run_trust()` asks each cell in turn through `Backend.stream`, checking `should_stop` between
events and cells, and hands each finished answer to a step store under "cell:L:D:T", so a
resumed job asks only what is missing (the store protocol is the synthesis runner's).

Does not know job rows, threads, the database or the UI (workbench/jobs, trust_store, tabs).
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, Sequence

from engine.events import Done, GenerationParams, TextDelta, Usage
from engine.errors import Cancelled

from workbench.errors import WorkbenchError
from workbench.synthesis import pricing
from workbench.synthesis.mapreduce import StepResult
from workbench.synthesis.runner import MemorySteps, StepStore
from workbench.trust import scoring
from workbench.trust.haystack import Builder, Corpus, Haystack
from workbench.trust.needles import make_needles

DEFAULT_LENGTHS = ("25%", "50%", "75%", "100%")
DEFAULT_DEPTHS = (0.0, 25.0, 50.0, 75.0, 100.0)
DEFAULT_MAX_NEW_TOKENS = 48


@dataclass(frozen=True)
class TrustRequest:
    project: str
    lengths: tuple[str, ...] = DEFAULT_LENGTHS  # "25%" of capacity, or "3000" tokens
    depths: tuple[float, ...] = DEFAULT_DEPTHS  # percent of the haystack
    seed: int = 0
    needles: int = 1  # facts per prompt, asked together
    trials: int = 1  # prompts per cell, each with its own needles
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    document_ids: tuple[int, ...] = ()  # empty: every document of the project
    model: str | None = None  # for jobs: which backend to load on resume; None = default

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("lengths", "depths", "document_ids"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "TrustRequest":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("lengths", "depths", "document_ids"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


@dataclass(frozen=True)
class TrustProgress:
    step: int
    steps_total: int
    message: str
    length: int | None = None
    depth: float | None = None


@dataclass(frozen=True)
class PlannedCell:
    length: int
    depth: float
    trial: int
    haystack: Haystack

    @property
    def key(self) -> str:
        return f"cell:{self.length}:{self.depth:g}:{self.trial}"


@dataclass
class TrustPlan:
    request: TrustRequest
    window: int
    capacity: int  # window less the reserved answer
    library_tokens: int | None  # whole library as a prompt; None when over capacity
    lengths: list[int]
    cells: list[PlannedCell]
    notes: list[str] = field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        return sum(c.haystack.prompt_tokens for c in self.cells)


@dataclass(frozen=True)
class CellResult:
    length: int
    depth: float
    accuracy: float
    cited_accuracy: float
    prompt_tokens: int  # mean over the cell's prompts
    answers: tuple[dict, ...] = ()  # per prompt: answer text and per-needle scores

    def as_json(self) -> dict:
        return {"length": self.length, "depth": self.depth, "accuracy": self.accuracy,
                "cited_accuracy": self.cited_accuracy, "prompt_tokens": self.prompt_tokens}


@dataclass
class TrustResult:
    request: TrustRequest
    backend: str
    model: str
    window: int
    cells: list[CellResult]
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cost: dict
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return _mean([c.accuracy for c in self.cells])

    @property
    def cited_score(self) -> float:
        return _mean([c.cited_accuracy for c in self.cells])

    def as_json(self, run_id: int | None = None) -> dict:
        """The `trust --json` object of DESIGN.md §4, plus what the check cost."""
        return {"score": self.score, "cited_score": self.cited_score,
                "cells": [c.as_json() for c in self.cells], "backend": self.backend,
                "model": self.model, "window": self.window, "seed": self.request.seed,
                "usage": {"prompt_tokens": self.prompt_tokens,
                          "completion_tokens": self.completion_tokens},
                "seconds": round(self.seconds, 3), "notes": list(self.notes),
                "run_id": run_id}


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 6) if values else 0.0


def parse_length(spec: str | int) -> tuple[float, bool]:
    """("25%" -> (25.0, True)), ("3000" -> (3000.0, False))."""
    text = str(spec).strip().replace("_", "").replace(",", "")
    percent = text.endswith("%")
    try:
        value = float(text[:-1] if percent else text)
    except ValueError:
        raise WorkbenchError(f"length {spec!r} is neither a token count (3000) nor a "
                             "percentage of the model's window (50%)") from None
    if value <= 0 or (percent and value > 100):
        raise WorkbenchError(f"length {spec!r} must be a positive token count or 1-100%")
    return value, percent


def _check_depths(depths: Sequence[float]) -> list[float]:
    out = sorted({float(d) for d in depths})
    if not out or any(d < 0 or d > 100 for d in out):
        raise WorkbenchError("depths are percentages from 0 (start) to 100 (end)")
    return out


def plan_trust(request: TrustRequest, backend, library=None, corpus: Corpus | None = None
               ) -> TrustPlan:
    """Lengths, needles and haystacks for every cell, counted exactly; no model call."""
    if request.needles < 1 or request.trials < 1:
        raise WorkbenchError("a trust check needs at least one needle and one trial per cell")
    depths = _check_depths(request.depths)
    if not request.lengths:
        raise WorkbenchError("choose at least one length")
    corpus = corpus or Corpus.from_library(library, request.project, request.document_ids)
    builder = Builder(backend, corpus)
    window = int(backend.context_window)
    capacity = window - request.max_new_tokens
    probe = make_needles(request.seed, "probe", request.needles)
    minimum = builder.build(1, probe, 50.0).prompt_tokens
    if minimum > capacity:
        raise WorkbenchError(f"the model's {window:,}-token window cannot hold even one section "
                             f"of the library and the question ({minimum:,} tokens)")
    library_tokens = builder.library_tokens(capacity, probe)
    notes: list[str] = []
    lengths: list[int] = []
    for spec in request.lengths:
        value, percent = parse_length(spec)
        tokens = int(round(capacity * value / 100)) if percent else int(value)
        if tokens > capacity:
            raise WorkbenchError(f"length {spec} is {tokens:,} tokens, more than the "
                                 f"{capacity:,} this model can read ({window:,}-token window "
                                 f"less {request.max_new_tokens} for the answer)")
        if library_tokens is not None and tokens > library_tokens:
            notes.append(f"length {spec} capped at the library's {library_tokens:,} tokens")
            tokens = library_tokens
        if tokens < minimum:
            notes.append(f"length {spec} raised to {minimum:,} tokens: one section and the "
                         "question take that much")
            tokens = minimum
        if tokens not in lengths:
            lengths.append(tokens)
    lengths.sort()
    cells = []
    for length in lengths:
        for depth in depths:
            for trial in range(request.trials):
                needles = make_needles(request.seed, f"{length}:{depth:g}:{trial}",
                                       request.needles)
                hay = None
                if length == library_tokens:  # the whole library, whatever its needles add
                    hay = builder.build(len(corpus.flat), needles, depth)
                if hay is None or hay.prompt_tokens > capacity:
                    hay = builder.fit(length, needles, depth)
                cells.append(PlannedCell(length, depth, trial, hay))
    return TrustPlan(request, window, capacity, library_tokens, lengths, cells, notes)


def _ask(backend, cell: PlannedCell, max_new_tokens: int, should_stop) -> StepResult:
    cancel = threading.Event()
    started = time.perf_counter()
    text, usage = [], None
    params = GenerationParams(max_new_tokens=max_new_tokens, temperature=0.0)
    for ev in backend.stream(cell.haystack.messages, params, cancel):
        if should_stop():
            cancel.set()
        if isinstance(ev, TextDelta):
            text.append(ev.text)
        elif isinstance(ev, Usage):
            usage = ev
        elif isinstance(ev, Done):
            if ev.finish_reason == "cancelled" or cancel.is_set():
                raise Cancelled("the trust check was cancelled")
            if ev.finish_reason == "error":
                raise WorkbenchError(f"the model failed: {ev.error}")
    prompt = usage.prompt_tokens if usage else cell.haystack.prompt_tokens
    completion = usage.completion_tokens if usage else 0
    return StepResult(cell.key, "".join(text), prompt, completion,
                      time.perf_counter() - started)


def run_trust(request: TrustRequest, backend, library=None, *,
              progress: Callable[[TrustProgress], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              steps: StepStore | None = None, planned: TrustPlan | None = None
              ) -> TrustResult:
    """Run every cell of the grid (reusing finished ones from `steps`) and score them; raises
    Cancelled if `should_stop` turns true."""
    progress = progress or (lambda p: None)
    should_stop = should_stop or (lambda: False)
    steps = steps if steps is not None else MemorySteps()
    progress(TrustProgress(0, 0, "building haystacks from the library"))
    p = planned or plan_trust(request, backend, library)
    total = len(p.cells)
    answers: dict[tuple[int, float], list[tuple[PlannedCell, StepResult]]] = {}
    for i, cell in enumerate(p.cells, 1):
        if should_stop():
            raise Cancelled("the trust check was cancelled")
        where = f"length {cell.length:,}, depth {cell.depth:g}%"
        done = steps.get(cell.key)
        if done is None:
            progress(TrustProgress(i - 1, total, f"asking at {where}", cell.length, cell.depth))
            done = _ask(backend, cell, request.max_new_tokens, should_stop)
            if should_stop():
                raise Cancelled("the trust check was cancelled")
            steps.put(cell.key, done)
        answers.setdefault((cell.length, cell.depth), []).append((cell, done))
        progress(TrustProgress(i, total, f"answered at {where}", cell.length, cell.depth))
    cells = [_score_cell(length, depth, pairs) for (length, depth), pairs in answers.items()]
    results = [s for _, pairs in answers.items() for _, s in pairs]
    prompt_tokens = sum(s.prompt_tokens for s in results)
    completion = sum(s.completion_tokens for s in results)
    return TrustResult(
        request=request, backend=getattr(backend, "name", "?"),
        model=getattr(backend, "model", "?"), window=p.window, cells=cells,
        prompt_tokens=prompt_tokens, completion_tokens=completion,
        seconds=sum(s.seconds for s in results),
        cost=pricing.cost_dict(prompt_tokens, completion), notes=list(p.notes))


def _score_cell(length: int, depth: float,
                pairs: list[tuple[PlannedCell, StepResult]]) -> CellResult:
    scores, answers = [], []
    for cell, step in pairs:
        cell_scores = scoring.score_answer(step.text, cell.haystack.placements)
        scores.extend(cell_scores)
        answers.append({"trial": cell.trial, "answer": step.text,
                        "prompt_tokens": step.prompt_tokens,
                        "needles": [dict(s.as_dict(), question=pl.needle.question,
                                         depth=pl.depth)
                                    for s, pl in zip(cell_scores, cell.haystack.placements)]})
    found, cited = scoring.accuracy(scores)
    mean_prompt = int(round(sum(s.prompt_tokens for _, s in pairs) / len(pairs)))
    return CellResult(length, depth, round(found, 6), round(cited, 6), mean_prompt,
                      tuple(answers))
