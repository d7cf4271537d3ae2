"""Map-reduce over anchor-aligned chunks, for jobs the user chose to run that way: usually
because they do not fit the window whole, sometimes by request when they would.

Each map step sees one chunk (whole sections, tagged with their anchors) and writes notes that
cite anchors; reduce steps combine the notes, in groups if they do not fit at once, into the
template's answer. Every finished step is handed to a step store under a stable key
("map:3", "reduce:1:0", "final"), so a resumed job reuses it instead of running it again.
The answer starts with a plain statement that it was map-reduced, why (the documents did not
fit, or map-reduce was requested although they did), with the budget's figures, and over what.

Does not know how a step is streamed or saved (runner.py passes `run_step` and the store).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from engine.events import Message

from workbench.errors import BudgetExceeded
from workbench.synthesis.budget import Budget, Chunk
from workbench.synthesis.packing import PREAMBLE, Block, task_tail
from workbench.synthesis.templates import Template

FIRST_TAG_RE = re.compile(r"^\s*(?:[-*]\s*)?\[([^\]\n]{1,20})\]", re.M)
FIRST_LINE_RE = re.compile(r"^\[[^\]\n]{1,20}\][^\n]{0,120}", re.M)
MAP_LEAD = (
    "You are reading part {part} of a longer set of documents that is read in parts; the final "
    "answer will be written from the notes on every part. Task: {task}\n\n"
    "Pick the three passages of this part that matter most for that task. Copy each one exactly "
    "as it appears above, starting with its bracketed anchor, then add a short comment after a "
    "dash, like this:\n{example} - comment"
)
REDUCE_LEAD = (
    "The documents were read in {n} parts, one at a time, and notes were written on each; "
    "the notes follow, each group labelled with the span it covers. "
    "Write the answer from these notes, keeping their bracketed anchors as citations."
)


@dataclass(frozen=True)
class StepResult:
    label: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    thinking: str = ""
    reused: bool = False
    cached_tokens: int = 0  # prompt tokens the engine read from its prefix cache
    ttft_s: float | None = None  # seconds to the first streamed token (None: reused step)
    guard: str | None = None  # why the engine's loop guard ended it, if it did


RunStep = Callable[[str, str, list, int, str, int, int], StepResult]
# run_step(key, label, messages, max_new_tokens, phase, step, steps_total)


def map_builder(template: Template, question: str, total: int):
    """Messages for one map step around a chunk block. Map notes are extractive (passages
    copied with their anchors, plus a comment): the one thing even a small model does reliably,
    and it carries real anchors and exact quotes into the reduce step."""
    def build(block: Block) -> list[Message]:
        index = block.key.split(":")[-1]
        part = f"{int(index) + 1} of {total}" if index.isdigit() else f"1 of {total}"
        first = FIRST_LINE_RE.search(block.text)
        task = template.task.split(". ")[0].rstrip(".") + "."
        if question:
            task += f" Question: {question.strip()}"
        lead = MAP_LEAD.format(part=part, task=task,
                               example=first.group(0).strip() if first else "[Sc. 1] ...")
        return [Message("system", PREAMBLE), Message("user", f"{block.text}\n\n{lead}")]
    return build


def _notes_block(notes: Sequence[StepResult]) -> str:
    return "\n\n".join(f'<notes span="{n.label}">\n{n.text.strip()}\n</notes>' for n in notes)


def reduce_messages(template: Template, question: str, facts: str,
                    notes: Sequence[StepResult], parts: int) -> list[Message]:
    cited = next((m.group(1) for n in notes for m in [FIRST_TAG_RE.search(n.text)] if m), None)
    tail = task_tail(template, question, facts, lead=REDUCE_LEAD.format(n=parts),
                     example=cited)
    return [Message("system", PREAMBLE), Message("user", f"{_notes_block(notes)}\n\n{tail}")]


def header(chunks: Sequence[Chunk], budget: Budget) -> str:
    """The statement every map-reduced answer begins with: why, the figures, and over what."""
    by_doc: dict[str, list[str]] = {}
    for c in chunks:
        by_doc.setdefault(c.source.title, []).append(f"[{c.first_anchor}]–[{c.last_anchor}]")
    spans = "; ".join(f"{title}: {', '.join(s)}" for title, s in by_doc.items())
    figures = f"{budget.needed:,} tokens needed, {budget.window:,} in the window"
    why = (f"the documents did not fit the model's window ({figures})" if not budget.fits else
           f"map-reduce was requested, although the documents fit the model's window whole "
           f"({figures})")
    return (f"*Map-reduced: {why}, so this answer was written from notes on {len(chunks)} "
            f"parts read one at a time ({spans}). No part was read together with the "
            f"others.*\n\n")


def describe_parts(chunks: Sequence[Chunk]) -> list[str]:
    """The plan shown before a map-reduce runs: a headline, then each part and its tokens."""
    n = len(chunks)
    most = max((c.prompt_tokens for c in chunks), default=0)
    lines = [f"Plan: map-reduce in {n} part{'s' if n != 1 else ''} of at most {most:,} tokens "
             f"each, then their notes are combined into one answer"]
    return lines + [f"part {c.index + 1} of {n}: {c.label}: {c.prompt_tokens:,} tokens"
                    for c in chunks]


def group(backend, notes: Sequence[StepResult], build, limit: int) -> list[list[StepResult]]:
    """Consecutive groups of notes whose reduce prompt fits `limit` tokens."""
    groups: list[list[StepResult]] = [[]]
    for n in notes:
        trial = groups[-1] + [n]
        if backend.count_tokens(build(trial)) <= limit:
            groups[-1] = trial
        elif not groups[-1]:
            raise BudgetExceeded(f"the notes on {n.label} alone do not fit a reduce step")
        else:
            groups.append([n])
    return groups


def run(backend, chunks: Sequence[Chunk], template: Template, question: str, facts: str, *,
        budget: Budget, map_tokens: int, answer_tokens: int, run_step: RunStep,
        should_stop: Callable[[], bool]) -> tuple[str, list[StepResult]]:
    """Run (or reuse) every map step, then reduce; returns (answer with header, all steps)."""
    n = len(chunks)
    build_map = map_builder(template, question, n)
    done: list[StepResult] = []
    notes: list[StepResult] = []
    for c in chunks:
        if should_stop():
            return "", done
        messages = build_map(c.block(n))
        res = run_step(f"map:{c.index}", c.label, messages, map_tokens, "map", c.index + 1, n + 1)
        done.append(res)
        notes.append(res)
    level = 1
    while True:
        if should_stop():
            return "", done
        build = lambda ns: reduce_messages(template, question, facts, ns, n)  # noqa: E731
        groups = group(backend, notes, build, backend.context_window - answer_tokens)
        if len(groups) == 1:
            res = run_step("final", "answer", build(groups[0]), answer_tokens, "reduce",
                           n + 1, n + 1)
            done.append(res)
            return header(chunks, budget) + res.text.strip(), done
        merged = []
        for g, ns in enumerate(groups):
            label = f"{ns[0].label.split(', [')[0]}, {_span(ns)}"
            res = run_step(f"reduce:{level}:{g}", label, build(ns), map_tokens, "reduce",
                           n + 1, n + 1)
            merged.append(StepResult(label, res.text, res.prompt_tokens,
                                     res.completion_tokens, res.seconds, reused=res.reused))
            done.append(res)
        if len(merged) >= len(notes):
            raise BudgetExceeded("the notes do not shrink when combined; choose fewer documents")
        notes, level = merged, level + 1


def _span(notes: Sequence[StepResult]) -> str:
    first = notes[0].label.split(", ", 1)[-1].split("–")[0]
    last = notes[-1].label.split(", ", 1)[-1].split("–")[-1]
    return f"{first}–{last}"
