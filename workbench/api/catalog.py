"""Which model names this server answers to, and the backend behind them.

Owns the mapping from a request's `model` field to the served backend: the configured model's
name and its registry aliases (case-insensitive; a retired alias such as `deepseek-reasoner`
also fixes thinking mode, as engine.models says). Anything else is a
404 listing what is served -- a name never reaches the file system from an HTTP request.
Does not load models itself: `backend_provider()` does (lazily, once; thread-safe by contract).
"""
from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Callable

from engine import models
from engine.backends.base import Backend
from engine.errors import EngineError
from workbench.config import Settings

from .errors import unknown_model

BackendProvider = Callable[[], Backend]


@dataclass(frozen=True)
class Resolved:
    backend: Backend
    name: str  # the name echoed back in responses: what the client asked for
    thinking: bool | None  # forced by a retired alias; None: the request decides


def _canonical(name: str) -> tuple[str, bool | None]:
    key = name.strip().lower()
    if key in models.KNOWN:
        return models.KNOWN[key].name, None
    if key in models.RETIRED:
        target, thinking = models.RETIRED[key]
        return target, thinking
    return name.strip(), None


class Catalog:
    def __init__(self, settings: Settings, backend_provider: BackendProvider):
        self._settings = settings
        self._provider = backend_provider
        self._lock = threading.Lock()

    def model_ids(self) -> list[str]:
        return [self._settings.model]

    def context_window(self) -> int | None:
        """The served model's window from the registry or its config, without loading it."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", models.RetiredModelName)
                return models.resolve(self._settings.model).context_window
        except EngineError:
            return None

    def backend(self) -> Backend:
        """The served backend; the first call loads the model (call it off the event loop)."""
        with self._lock:
            return self._provider()

    def check(self, name: str) -> tuple[str, bool | None]:
        """(name, forced thinking) for a served name; ApiError 404 otherwise. No loading."""
        served, _ = _canonical(self._settings.model)
        wanted, thinking = _canonical(name)
        if wanted != served:
            raise unknown_model(name, self.model_ids())
        return name, thinking

    def resolve(self, name: str) -> Resolved:
        name, thinking = self.check(name)
        return Resolved(self.backend(), name, thinking)
