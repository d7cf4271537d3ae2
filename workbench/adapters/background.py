"""A training run in a background thread, followed by the LoRA tab (or a notebook).

Why a thread and not the synthesis job manager: a training run's durable state is already the
adapter row plus its checkpoints (a killed run resumes from them on the next identical
request), so all this adds is a live view: the loss curve so far, the step, cancel. Closing
the browser tab leaves the thread running; `should_stop` ends it at the next step with a
checkpoint written, so it can be resumed.

Does not know: Gradio, SQL, or the training internals (service.py).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from workbench.errors import WorkbenchError


@dataclass
class RunView:
    status: str = "starting"  # starting | training | evaluating | ready | cancelled | failed
    adapter: str | None = None
    step: int = 0
    steps_total: int = 0
    losses: list[tuple[int, float]] = field(default_factory=list)
    result: dict | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("ready", "cancelled", "failed")


class TrainingRun:
    def __init__(self, library, settings, request):
        self.library, self.settings, self.request = library, settings, request
        self.view = RunView(steps_total=request.train.steps)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="lora-training", daemon=True)

    def start(self) -> "TrainingRun":
        self.thread.start()
        return self

    def cancel(self) -> None:
        self._stop.set()

    def snapshot(self) -> RunView:
        with self._lock:
            v = self.view
            return RunView(v.status, v.adapter, v.step, v.steps_total, list(v.losses),
                           v.result, v.error)

    def _started(self, info: dict) -> None:
        with self._lock:
            self.view.adapter, self.view.status = info["adapter"], "training"

    def _progress(self, report) -> None:
        with self._lock:
            self.view.step = report.step
            self.view.losses.append((report.step, report.loss))
            if report.step == report.steps_total:
                self.view.status = "evaluating"

    def _run(self) -> None:
        from engine.errors import EngineError
        from workbench.adapters.service import train_adapter

        try:
            result = train_adapter(self.library, self.settings, self.request,
                                   progress=self._progress, should_stop=self._stop.is_set,
                                   on_start=self._started)
        except (WorkbenchError, EngineError) as exc:
            with self._lock:
                self.view.status, self.view.error = "failed", str(exc)
            return
        except Exception as exc:  # a bug: shown in the tab, and kept on the adapter row
            with self._lock:
                self.view.status, self.view.error = "failed", f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            self.view.result = result
            self.view.losses = [tuple(x) for x in result["losses"]]
            self.view.status = result["status"]
