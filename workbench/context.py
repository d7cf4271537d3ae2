"""AppContext: what app.py builds once and hands to every UI tab and the HTTP API.

Why: tabs and routes need the same settings, the same Workbench and the same model backend;
passing one object explicitly avoids globals (text-generation-webui's `shared` is the anti-model).
The backend is created on first use, so the app starts without importing torch or loading weights.

Does not know: Gradio or FastAPI; it is plain Python and usable from tests and notebooks.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from workbench.config import Settings
from workbench.errors import WorkbenchError
from workbench.workbench import Workbench


@dataclass
class AppContext:
    settings: Settings
    workbench: Workbench
    _backend: object | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "AppContext":
        return cls(settings=settings, workbench=Workbench(settings))

    def backend(self):
        """The model backend for `settings.model` (a local model, or one added with add-model),
        loaded on first call (seconds to minutes)."""
        with self._lock:
            if self._backend is None:
                self._backend = self.workbench.make_model_backend(self.settings.model)
            return self._backend

    def loaded_backend(self):
        """The backend now held, or None; never loads anything (for status displays)."""
        with self._lock:
            return self._backend

    def set_backend(self, backend) -> object | None:
        """Make `backend` the app's backend (tabs and the HTTP API); returns the previous one."""
        with self._lock:
            previous, self._backend = self._backend, backend
            return previous

    def unload_backend(self) -> object | None:
        """Drop the backend; the next `backend()` call loads `settings.model` again."""
        return self.set_backend(None)


def load_options(settings: Settings):
    """The engine's placement options from the settings' flags (--device-map, --max-memory...)."""
    from engine.placement.options import LoadOptions

    return LoadOptions(device_map=settings.device_map,
                       max_memory=parse_max_memory(settings.max_memory),
                       offload_folder=str(settings.offload_folder)
                       if settings.offload_folder else None,
                       quantization=settings.quantization,
                       kernels=not settings.reference_v4)


def parse_max_memory(text: str | None) -> dict | None:
    """'cpu=8GiB,0=20GiB' -> {'cpu': '8GiB', 0: '20GiB'}: the engine's parser (placement/
    options.py, which `python -m engine plan` uses too), its error said as a WorkbenchError."""
    from engine.errors import ModelLoadError
    from engine.placement.options import parse_max_memory as parse

    try:
        return parse(text)
    except ModelLoadError as exc:
        raise WorkbenchError(str(exc)) from exc