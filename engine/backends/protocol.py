"""The `Backend` protocol: what the UI, jobs, HTTP API, CLI and notebooks may rely on.

Why separate from the events (engine/events.py): the events are data every layer shares; this is
the one interface that yields them, implemented by engine/backends/local.py, openai_compat.py
and anthropic.py. Does not know how any backend works.
"""
from __future__ import annotations

import threading
from typing import Iterator, Protocol, runtime_checkable

from engine.events import Event, GenerationParams, Message


@runtime_checkable
class Backend(Protocol):
    """What callers may rely on. `context_window` is the model's real window in tokens."""

    name: str  # backend kind: "local", "openai_compat", "anthropic"
    model: str  # model name as the user chose it
    context_window: int

    def count_tokens(self, messages: list[Message]) -> int:
        """Tokens the prompt will take, with the tokenizer and chat template that will run it.

        Backends that take tools (`supports_tools = True`) also accept `tools=` (ToolSpecs),
        counted as the template renders them."""
        ...

    def stream(
        self,
        messages: list[Message],
        params: GenerationParams,
        cancel: threading.Event | None = None,
    ) -> Iterator[Event]:
        """Yield TextDelta/ThinkingDelta/ToolCallDelta as they come, then Usage, then Done."""
        ...
