"""The stream events every backend speaks, at the engine's ground floor (imports no engine module).

Messages in, `GenerationParams`, then deltas, `Usage` and `Done` out; `Completion`/`collect` fold a
stream. The `Backend` protocol that yields them is engine/backends/protocol.py; remote backends
and the local decode loop (engine/generation.py) both build on this module, not on each other.
The UI, the job runner, the HTTP API, the CLI and notebooks all consume `Backend.stream`.
Cancellation is a `threading.Event` the caller sets from any thread; backends check it
between decode steps (local) or between received chunks (remote).

Tools: a `Message` carries the assistant's `tool_calls` or, with role "tool", one call's
result; `GenerationParams.tools` offers definitions and `tool_choice` says whether the model
may ("auto"), must ("required", or a tool's name) or must not ("none") call one. A backend
that calls a tool streams `ToolCallDelta`s and ends with `Done("tool_calls")`.
`response_format` (a JSON Schema, or `{}` for any JSON object) asks for structured text.
`PrefillProgress` says how far the local decode loop has read the prompt (before the first
delta); it carries no answer, so every consumer that does not show progress skips it and
remote backends never send it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Literal, Union

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "cancelled", "error", "tool_calls"]


@dataclass(frozen=True)
class ToolCall:
    """One call the model made: `arguments` is the JSON text of an object, as OpenAI sends it."""

    id: str
    name: str
    arguments: str = "{}"


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call; `parameters` is the JSON Schema of its arguments object."""

    name: str
    description: str = ""
    parameters: dict = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class Message:
    """A chat turn. Assistant turns may carry `tool_calls`; a "tool" turn is one call's result
    (`tool_call_id` says which call, `name` which tool, `is_error` a failed call)."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 512
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    thinking: bool = False
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str = "auto"  # "auto" | "none" | "required" | the name of one tool
    parallel_tool_calls: bool = True
    response_format: dict | None = None  # a JSON Schema the answer must match; {}: any object
    # Loop and echo guards (engine/loop_guard.py), off unless asked for: synthesis steps ask.
    repetition_penalty: float = 1.0  # >1 makes tokens already generated less likely
    loop_guard: int = 0  # words in a run that may not repeat; 0: off
    stop_markup: tuple[str, ...] = ()  # prompt markup that ends the answer if it is echoed
    loop_repeats: int = 0  # the same sentence this many times in a row ends it; 0: off


@dataclass(frozen=True)
class TextDelta:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True)
class ThinkingDelta:
    text: str
    kind: Literal["thinking"] = "thinking"


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of call number `index`: the first piece has `id` and `name`, the rest only
    append to `arguments` (concatenated they are the call's JSON arguments)."""

    index: int
    arguments: str = ""
    id: str | None = None
    name: str | None = None
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True)
class PrefillProgress:
    """The prompt read so far: `done_tokens` of `total_tokens`, of which `cached_tokens` came
    from the prefix cache (sent once at the start, then after each prefill chunk)."""

    done_tokens: int
    total_tokens: int
    cached_tokens: int = 0
    kind: Literal["prefill"] = "prefill"


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
    guard: str | None = None  # why the loop guard ended it ("loop: ...", "markup: ...")


Event = Union[TextDelta, ThinkingDelta, ToolCallDelta, PrefillProgress, Usage, Done]


@dataclass
class Completion:
    """A whole answer collected from a stream (for callers that do not stream)."""

    text: str = ""
    thinking: str = ""
    usage: Usage | None = None
    finish_reason: FinishReason = "stop"
    error: str | None = None
    stop_sequence: str | None = None
    guard: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)

    def add(self, ev: Event) -> None:
        """Fold one event in; `collect` drains a stream with it, the HTTP API an async one.
        PrefillProgress carries no answer and changes nothing."""
        if isinstance(ev, TextDelta):
            self.text += ev.text
        elif isinstance(ev, ThinkingDelta):
            self.thinking += ev.text
        elif isinstance(ev, ToolCallDelta):
            if ev.index == len(self.tool_calls):
                self.tool_calls.append(ToolCall(ev.id or "", ev.name or "", ""))
            call = self.tool_calls[ev.index]
            self.tool_calls[ev.index] = ToolCall(call.id, call.name,
                                                 call.arguments + ev.arguments)
        elif isinstance(ev, Usage):
            self.usage = ev
        elif isinstance(ev, Done):
            self.finish_reason, self.error = ev.finish_reason, ev.error
            self.stop_sequence, self.guard = ev.stop_sequence, ev.guard


def collect(events: Iterator[Event]) -> Completion:
    """Drain a stream into a Completion."""
    out = Completion()
    for ev in events:
        out.add(ev)
    return out


def run_to_end(steps: Iterator):
    """Drain a step generator (a prefill that yields PrefillProgress-like values and returns a
    value); its value. Here, at the ground floor, so every prefill loop can use it."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
