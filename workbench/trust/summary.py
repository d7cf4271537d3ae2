"""The latest trust result for a project, backend and model, as the Synthesize tab shows it:
the overall score next to the budget, and a warning when a job's prompt is as long as a
region of the grid that scored badly.

Why by length row: a job's prompt length is known before it runs, the needle's depth is not
(the detail the user cares about may be anywhere), so the row of the grid whose length covers
the prompt is judged as a whole: its mean, and the depths that failed.
Does not run checks (runner.py) or write rows (workbench/library/trust_store.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from workbench.errors import ProjectNotFound

WARN_BELOW = 0.75  # a length row whose mean accuracy is under this gets a warning
DEPTH_FAILS_BELOW = 0.5  # depths listed as weak in the warning


@dataclass(frozen=True)
class TrustSummary:
    run_id: int
    project_id: int
    backend: str
    model: str
    window: int
    score: float
    cited_score: float
    cells: tuple[dict, ...]  # {"length", "depth", "accuracy", "cited_accuracy", ...}
    seconds: float
    created_at: datetime | None = None

    @classmethod
    def from_run(cls, run) -> "TrustSummary":
        cells = tuple({k: v for k, v in c.items() if k != "answers"} for c in run.cells)
        return cls(run.id, run.project_id, run.backend, run.model, run.window, run.score,
                   run.cited_score, cells, run.seconds, run.created_at)

    @property
    def lengths(self) -> list[int]:
        return sorted({int(c["length"]) for c in self.cells})

    def row(self, length: int) -> list[dict]:
        return sorted((c for c in self.cells if int(c["length"]) == length),
                      key=lambda c: float(c["depth"]))

    def describe(self) -> str:
        return (f"Trust check for {self.model}: {self.score:.0%} of planted facts found, "
                f"{self.cited_score:.0%} with the right citation "
                f"(tested up to {max(self.lengths, default=0):,} tokens).")

    def warns_for(self, prompt_tokens: int) -> str | None:
        """A warning when `prompt_tokens` falls in a length row that scored badly, or beyond
        the longest length tested; None when the tested row at that length did well."""
        lengths = self.lengths
        if not lengths:
            return None
        covering = [n for n in lengths if n >= prompt_tokens]
        length = covering[0] if covering else lengths[-1]
        row = self.row(length)
        mean = sum(float(c["accuracy"]) for c in row) / len(row)
        weak = [f"{float(c['depth']):g}%" for c in row
                if float(c["accuracy"]) < DEPTH_FAILS_BELOW]
        beyond = not covering
        if mean >= WARN_BELOW and not beyond:
            return None
        if beyond:
            text = (f"This prompt ({prompt_tokens:,} tokens) is longer than any the trust check "
                    f"of {self.model} tested; at {length:,} tokens it found {mean:.0%} of "
                    "planted facts")
        else:
            text = (f"At about {length:,} tokens the trust check of {self.model} found only "
                    f"{mean:.0%} of planted facts")
        if weak:
            text += f" (missed most at depth {', '.join(weak)})"
        return text + ". A detail in a prompt this long may be missed: check the citations."


def latest_trust(project, backend_name: str, model: str, *, library) -> TrustSummary | None:
    """The newest check of `model` on `backend_name` for `project` (name or id), or None.

    `library` is the open Library (or its data dir) whose database holds the results."""
    from workbench.library import Library

    if isinstance(library, (str, Path)):
        with Library.open(Path(library)) as lib:
            return latest_trust(project, backend_name, model, library=lib)
    try:
        project_id = library.get_project(project).id
    except ProjectNotFound:
        return None
    store = library.trust
    try:
        run = store.latest(project_id, backend_name, model)
    finally:
        store.close()
    return None if run is None else TrustSummary.from_run(run)
