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
    """Partial answers per model of one running comparison (thread-safe).

    Models on different machines stream at the same time, each from its own thread
    (`Workbench.compare` calls `start` in the thread that runs the model), so a progress event
    belongs to the model its thread last started."""

    def __init__(self, models: Sequence[str], names: Sequence[str] = ()):
        self.models = list(models)
        self.names = list(names) or self.models
        self.texts = {m: "" for m in self.models}
        self.running: dict[int, str] = {}  # thread id -> the model it streams
        self.finished: set[str] = set()
        self.messages: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def current(self) -> str | None:
        """The first running model in column order (None before any starts)."""
        with self._lock:
            live = set(self.running.values())
        return next((m for m in self.models if m in live), None)

    def start(self, model: str) -> None:
        with self._lock:
            before = self.running.get(threading.get_ident())
            if before is not None:
                self.finished.add(before)
            self.running[threading.get_ident()] = model
            self.messages[model] = "starting"

    def progress(self, p) -> None:
        with self._lock:
            model = self.running.get(threading.get_ident())
            if model is None and len(self.running) == 1:  # fed from another thread (tests)
                model = next(iter(self.running.values()))
            if model is None:
                return
            if p.delta:
                self.texts[model] += p.delta
            if p.message:
                self.messages[model] = p.message

    def _state(self, model: str) -> str:
        if model in self.running.values():
            return "streaming…"
        return "finished" if model in self.finished else "waiting"

    def columns(self, blind: bool, width: int) -> list[str]:
        """One HTML block per model (padded with "" to `width`)."""
        with self._lock:
            out = []
            for i, model in enumerate(self.models):
                head = f"Answer {i + 1}" if blind else model
                text = mask(self.texts[model], self.names) if blind else self.texts[model]
                out.append(text_block(f"{head} · {self._state(model)}", text))
        return pad(out, width)

    def status(self, blind: bool) -> str:
        with self._lock:
            live = [m for m in self.models if m in self.running.values()]
            if not live:
                return "Comparison starting…"
            parts = []
            for model in live:
                i = self.models.index(model) + 1
                who = f"answer {i}" if blind else model
                message = self.messages.get(model, "")
                parts.append(f"{who} ({i} of {len(self.models)}): "
                             f"{mask(message, self.names) if blind else message}")
            return "Running " + "; ".join(parts)
