"""Serving `base+adapter` model names: one LoRA adapter on the local model at a time.

Why: the served model is loaded once; a request naming `base+adapter` must run with that
adapter attached, and the next request naming the plain base must run without it. Attaching
(engine.adapters) happens under the LocalBackend's own lock, but between the switch and the
generation another request could switch again, so `AdapterSwitch` holds one lock from the
switch to the end of the generation. Requests are served one at a time anyway (one model).

Owns `AdapterSwitch.view(backend, adapter, name)`: a Backend that, when streamed, first puts
the right adapter on (or takes any off), then generates. Counting tokens needs no switch: an
adapter does not change the tokenizer or the window.
Does not know: where adapters are registered (catalog.py asks the library), HTTP.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

from engine.backends.protocol import Backend
from engine.events import Event, GenerationParams, Message


def adapter_key(adapter) -> str:
    """The name an attached adapter carries: unique across projects (`<project id>/<name>`)."""
    return f"{adapter.project_id}/{adapter.name}"


class AdapterSwitch:
    """One lock for every view of one backend: the adapter stays put for a whole generation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def view(self, backend: Backend, adapter, name: str) -> Backend:
        """`backend` as `name`, with `adapter` (an AdapterInfo, or None for the bare base)."""
        if adapter is None and not hasattr(backend, "swap_model"):
            return backend  # a remote backend: nothing to attach or detach
        return AdapterView(backend, self._lock, adapter, name)


class AdapterView:
    """A Backend that attaches its adapter (or detaches any) right before it generates."""

    def __init__(self, backend: Backend, lock: threading.Lock, adapter, name: str):
        self._backend, self._lock, self._adapter = backend, lock, adapter
        self.name = backend.name
        self.model = name
        self.context_window = backend.context_window
        self.supports_tools = getattr(backend, "supports_tools", False)

    def count_tokens(self, messages: list[Message], **kwargs) -> int:
        return self._backend.count_tokens(messages, **kwargs)

    def stream(self, messages: list[Message], params: GenerationParams,
               cancel: threading.Event | None = None) -> Iterator[Event]:
        with self._lock:
            self._switch()
            yield from self._backend.stream(messages, params, cancel)

    def _switch(self) -> None:
        from engine.adapters import active_adapter, attach_adapter, detach_adapter

        current = active_adapter(self._backend)
        if self._adapter is None:
            if current is not None:
                detach_adapter(self._backend)
            return
        key = adapter_key(self._adapter)
        if current != key:
            attach_adapter(self._backend, Path(self._adapter.path), key)
