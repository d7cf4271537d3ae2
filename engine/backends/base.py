"""The one interface every backend speaks: a stream of events.

The UI, the job runner, the HTTP API, the CLI and notebooks all consume `Backend.stream`.
Cancellation is a `threading.Event` the caller sets from any thread; backends check it
between decode steps (local) or between received chunks (remote).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator, Literal, Protocol, Union, runtime_checkable

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled", "error"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 512
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    thinking: bool = False


@dataclass(frozen=True)
class TextDelta:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True)
class ThinkingDelta:
    text: str
    kind: Literal["thinking"] = "thinking"


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    kind: Literal["usage"] = "usage"
    cached_tokens: int = 0  # prompt tokens read from a prefix cache instead of prefilled


@dataclass(frozen=True)
class Done:
    finish_reason: FinishReason
    error: str | None = None
    kind: Literal["done"] = "done"
    stop_sequence: str | None = None  # the stop string that ended the answer, if one did


Event = Union[TextDelta, ThinkingDelta, Usage, Done]


@runtime_checkable
class Backend(Protocol):
    """What callers may rely on. `context_window` is the model's real window in tokens."""

    name: str  # backend kind: "local", "openai_compat", "anthropic"
    model: str  # model name as the user chose it
    context_window: int

    def count_tokens(self, messages: list[Message]) -> int:
        """Tokens the prompt will take, with the tokenizer and chat template that will run it."""
        ...

    def stream(
        self,
        messages: list[Message],
        params: GenerationParams,
        cancel: threading.Event | None = None,
    ) -> Iterator[Event]:
        """Yield TextDelta/ThinkingDelta as they come, then one Usage, then one Done."""
        ...


@dataclass
class Completion:
    """A whole answer collected from a stream (for callers that do not stream)."""

    text: str = ""
    thinking: str = ""
    usage: Usage | None = None
    finish_reason: FinishReason = "stop"
    error: str | None = None
    stop_sequence: str | None = None

    def add(self, ev: Event) -> None:
        """Fold one event in; `collect` drains a stream with it, the HTTP API an async one."""
        if isinstance(ev, TextDelta):
            self.text += ev.text
        elif isinstance(ev, ThinkingDelta):
            self.thinking += ev.text
        elif isinstance(ev, Usage):
            self.usage = ev
        elif isinstance(ev, Done):
            self.finish_reason, self.error = ev.finish_reason, ev.error
            self.stop_sequence = ev.stop_sequence


def collect(events: Iterator[Event]) -> Completion:
    """Drain a stream into a Completion."""
    out = Completion()
    for ev in events:
        out.add(ev)
    return out
