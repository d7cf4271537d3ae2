"""The Compare tab's columns while a comparison runs: each model's partial answer as it streams.

`LiveColumns` is fed from the comparison's own events (`Workbench.compare(on_model=...,
progress=...)`: which model starts, then the job's `Progress` deltas, the same events the
Synthesize tab's job follows) from the thread that runs it, and read by the tab's generator
handler. In blind mode a column is "Answer N" and its text is masked like the blind view's
(the model ids, a remote's server-side id, the known families); the final blind view shuffles
the answers into A/B/... once the comparison is stored.
Does not know Gradio, SQL or how a model runs.
"""
from __future__ import annotations

import threading
from typing import Sequence

from workbench.compare.masking import mask
from workbench.ui.compare_views import pad, text_block


class LiveColumns:
    """Partial answers per model of one running comparison (thread-safe)."""

    def __init__(self, models: Sequence[str], names: Sequence[str] = ()):
        self.models = list(models)
        self.names = list(names) or self.models
        self.texts = {m: "" for m in self.models}
        self.current: str | None = None
        self.message = ""
        self._lock = threading.Lock()

    def start(self, model: str) -> None:
        with self._lock:
            self.current, self.message = model, "starting"

    def progress(self, p) -> None:
        with self._lock:
            if self.current is None:
                return
            if p.delta:
                self.texts[self.current] += p.delta
            if p.message:
                self.message = p.message

    def _state(self, i: int, model: str) -> str:
        if model == self.current:
            return "streaming…"
        at = self.models.index(self.current) if self.current in self.models else -1
        return "finished" if i < at else "waiting"

    def columns(self, blind: bool, width: int) -> list[str]:
        """One HTML block per model (padded with "" to `width`)."""
        with self._lock:
            out = []
            for i, model in enumerate(self.models):
                head = f"Answer {i + 1}" if blind else model
                text = mask(self.texts[model], self.names) if blind else self.texts[model]
                out.append(text_block(f"{head} · {self._state(i, model)}", text))
        return pad(out, width)

    def status(self, blind: bool) -> str:
        with self._lock:
            if self.current is None:
                return "Comparison starting…"
            i = self.models.index(self.current) + 1
            who = f"answer {i}" if blind else self.current
            message = mask(self.message, self.names) if blind else self.message
            return f"Running {who} ({i} of {len(self.models)}): {message}"
