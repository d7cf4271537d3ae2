"""Step plans: a template split into short, well-posed steps a small model can do, and the
answer assembled from them with every anchor attached by construction.

Why: the embedded default (135M parameters, 8K window) given a whole screenplay and the full
output contract writes seven tokens, loops on a heading or echoes the prompt's markup; given one
scene and one question it writes a usable paragraph. So a step sees one scene (one flagged cut,
one changed scene, one page), answers one question in a few sentences, and the assembler puts
the anchor, the heading and the computed lead (`[Sc. 4] (v2) Added: INT. LAB--NIGHT.`) in front
of it: a citation no model wrote cannot be fabricated. Later steps (the verdict, the summary of
changes) read the earlier steps' answers, not the documents, so they stay short too.

One module per template builds its `StepPlan`; chooser.py decides whether a plan runs at all;
run.py runs the steps (with the loop guard on, retrying a step once when it trips) and
assembles the answer. Templates without a plan (the free prompt) always run whole.

Does not know how a step is streamed or stored (the runner passes `run_step`), nor the database.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

from engine.events import Message

STEP_SYSTEM = ("You are Longhand, a careful script and research analyst. Answer the one "
               "question asked, in plain sentences, about the text given. Do not repeat the "
               "question or the text.")


@dataclass(frozen=True)
class Step:
    """One model call. `build(done)` makes its messages from the answers of earlier steps
    (`done`: key -> cleaned text); most steps ignore `done`."""

    key: str
    label: str  # shown in progress: "summary of [Sc. 3]"
    build: Callable[[dict], list[Message]]
    max_new_tokens: int = 96
    prime: str = ""  # the answer's first words, written for the model to continue


@dataclass
class StepPlan:
    template: str
    steps: list[Step]
    assemble: Callable[[dict], str]  # cleaned step answers (key -> text) -> the answer
    notes: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"kind": "steps", "steps": len(self.steps)}


def ask(context: str, question: str) -> list[Message]:
    """A step's messages: the text to read, then the one question about it."""
    return [Message("system", STEP_SYSTEM), Message("user", f"{context.strip()}\n\n{question}")]


def primed(messages: list[Message], prime: str) -> list[Message]:
    """The messages with the answer begun: a small model continues "In this scene," far
    better than it starts on its own (it no longer opens with "The scene ends with")."""
    return [*messages, Message("assistant", prime)] if prime else messages


LEADING_ANCHOR_RE = re.compile(r"^\s*(?:[-*]\s*)?(?:\[[^\]\n]{1,24}\]\s*[:.-]?\s*)+")
SPACE_RE = re.compile(r"\s+")


def clean(text: str, sentences: int | None = None) -> str:
    """A step's answer as one paragraph: no echoed leading anchor, no markdown headings, no
    dangling half-sentence when a guard or the token limit cut it."""
    lines = [ln for ln in (text or "").splitlines() if not ln.lstrip().startswith("#")]
    body = SPACE_RE.sub(" ", " ".join(lines)).strip()
    body = LEADING_ANCHOR_RE.sub("", body).strip().strip('"').strip()
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", body)]
    if ends and ends[-1] < len(body):
        body = body[:ends[-1]]  # drop an unfinished last sentence
    if sentences is not None and len(ends) > sentences:
        body = body[:ends[sentences - 1]]
    return body.strip(" ,;")


def trim_words(text: str, words: int) -> str:
    parts = text.split()
    return text if len(parts) <= words else " ".join(parts[:words]) + " ..."


def scenes_of(sources: Sequence) -> list[tuple[object, object]]:
    """(source, scene section) pairs in document order."""
    out = []
    for src in sorted(sources, key=lambda s: (s.document_id, s.version)):
        out += [(src, s) for s in sorted(src.sections, key=lambda s: s.ordinal)
                if s.kind == "scene"]
    return out


def group_small(items: Sequence, size: Callable[[object], int], least: int,
                most: int | None = None) -> list[list]:
    """Consecutive items grouped so that each group holds at least `least` (words), a tiny
    scene riding along with its neighbour; `most` caps the number of groups."""
    groups: list[list] = []
    for item in items:
        if groups and sum(size(i) for i in groups[-1]) < least:
            groups[-1].append(item)
        else:
            groups.append([item])
    if len(groups) > 1 and sum(size(i) for i in groups[-1]) < least:
        groups[-2] += groups.pop()
    while most is not None and len(groups) > most:
        k = min(range(len(groups) - 1),
                key=lambda j: sum(size(i) for i in groups[j] + groups[j + 1]))
        groups[k:k + 2] = [groups[k] + groups[k + 1]]
    return groups


def words(text: str) -> int:
    return len((text or "").split())
