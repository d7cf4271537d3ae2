"""The figures a running synthesis shows: how far (a percent for the bar), what it is doing
("reading the prompt 43%", "writing 12.5 tokens/s"), where in a plan ("step 2 of 5",
"part 3 of 7") and about how long is left, estimated from rates measured in this run.

Owns the arithmetic only: the runner feeds a `Meter` the engine's prompt-reading progress and
each written piece as they come; the UI renders the `Figures` it hands back. Knows nothing of
jobs, the database or gradio. The clock is injectable so tests can drive it.

Estimates: reading speed is prompt tokens per second over the latest chunk (each chunk attends
to all before it, so later ones are slower; the prefix cache's share is excluded); writing speed is pieces written per second since the first
(a piece is one token nearly always); time left is the rest of this step at those speeds, the
answer counted at its full token limit (it may end sooner), plus the plan's remaining steps at
the average of those already done.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

NOUNS = {"map": "part", "reduce": "combining step", "step": "step"}


@dataclass(frozen=True)
class Figures:
    percent: int  # the bar, 0..100: this prompt and answer, or the whole plan when it has steps
    label: str  # what it is doing now
    where: str = ""  # the step of a plan, "" for a single prompt
    seconds_left: float | None = None  # None until a rate is measured

    def text(self) -> str:
        left = f"about {round(self.seconds_left)} s left" if self.seconds_left is not None \
            else ""
        return " · ".join(part for part in (self.where, self.label, left) if part)

    def as_dict(self) -> dict:
        return {**asdict(self), "text": self.text()}


class Meter:
    """One run's progress: `start_step` at each model call, `reading` for each prompt-reading
    report, `wrote` for each answer piece, `finish_step` when the call returned."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.phase, self.step, self.total, self.max_new = "whole", 1, 1, 0
        self.done, self.prompt, self.cached, self.written = 0, 0, 0, 0
        self.read_from: tuple[float, int] | None = None  # (time, tokens) of the last report
        self.read_rate: float | None = None
        self.first_piece: float | None = None
        self.write_rate: float | None = None  # kept across steps: the model's pace
        self.step_started = self.clock()
        self.step_seconds: list[float] = []

    def start_step(self, phase: str, step: int, total: int, max_new: int) -> Figures:
        self.phase, self.step, self.total = phase, max(step, 1), max(total, 1)
        self.max_new, self.written, self.first_piece = max(max_new, 0), 0, None
        self.done = self.prompt = self.cached = 0
        self.read_from, self.read_rate, self.step_started = None, None, self.clock()
        return self.figures()

    def reading(self, done: int, total: int, cached: int = 0) -> Figures:
        now = self.clock()
        self.done, self.prompt, self.cached = done, total, cached
        if self.read_from is not None and now > self.read_from[0] and done > self.read_from[1]:
            self.read_rate = (done - self.read_from[1]) / (now - self.read_from[0])
        self.read_from = (now, done)  # the latest chunk's pace: later chunks read slower
        return self.figures()

    def wrote(self, pieces: int = 1) -> Figures:
        now = self.clock()
        if self.first_piece is None:
            self.first_piece = now
            self.done = self.prompt = max(self.prompt, self.done)
        self.written += pieces
        if self.written > 1 and now > self.first_piece:
            self.write_rate = (self.written - 1) / (now - self.first_piece)
        return self.figures()

    def finish_step(self) -> None:
        self.step_seconds.append(self.clock() - self.step_started)

    def figures(self) -> Figures:
        writing = self.first_piece is not None
        if writing:
            within = min(self.written / self.max_new, 1.0) if self.max_new else 0.0
            rate = f"{self.write_rate:.1f} tokens/s" if self.write_rate else "started"
            label = f"writing {rate}"
        else:
            within = self.done / self.prompt if self.prompt else 0.0
            label = f"reading the prompt {int(within * 100)}%"
        if self.total > 1:  # the plan's share: steps done, half for reading, half for writing
            share = (0.5 + 0.5 * within) if writing else 0.5 * within
            percent = int(100 * (self.step - 1 + share) / self.total)
            where = f"{NOUNS.get(self.phase, 'step')} {self.step} of {self.total}"
        else:
            percent, where = int(100 * within), ""
        return Figures(min(percent, 100), label, where, self._left(writing))

    def _left(self, writing: bool) -> float | None:
        answer = self.max_new - self.written
        if writing:
            if not self.write_rate:
                return None
            left = answer / self.write_rate
        else:
            if not self.read_rate:
                return None
            left = (self.prompt - self.done) / self.read_rate
            left += answer / self.write_rate if self.write_rate else 0.0
        if self.step < self.total and self.step_seconds:
            average = sum(self.step_seconds) / len(self.step_seconds)
            left += average * (self.total - self.step)
        return max(left, 0.0)
