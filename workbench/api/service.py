"""What both protocols' routes do the same way, between parsing a request and framing events.

Owns `ApiState` (settings, the model catalog, the generation runner, the stored Responses-API
answers: one per app) and the
protocol-free steps of a generation request: resolve the model, count the prompt (tools
included) with the tokenizer that will run it, refuse a prompt that does not fit (the vendors'
400 with the budget, never truncate) and cap a `max_tokens` larger than the room left to that
room, as the vendors' clients expect (Claude Code asks for 32,000 on an 8,192 window),
take a place in the queue (429 when full), wait for the engine's first event while watching
for a client that hangs up, and drain a whole answer for non-streaming callers; the request's
usage meter (usage_log.py), when there is one, gets the model, the Usage and the first token.
An engine failure before any text is a 500; after text has been streamed it is the stream's
last event, framed by the route.
Does not know either wire format.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from engine.backends.protocol import Backend
from engine.events import Completion, Done, Event, GenerationParams, Message
from engine.events import TextDelta, ThinkingDelta, ToolCallDelta, ToolSpec, Usage
from engine.errors import ContextOverflow
from workbench.config import Settings

from .catalog import Catalog
from .engine_stream import Generation, GenerationRunner, unless_disconnected
from .errors import ApiError, bad_request
from .responses_store import ResponseStore
from .usage_log import Meter, UsageLog

DEFAULT_MAX_OUTPUT = 512  # when an OpenAI client names no max_tokens


@dataclass
class ApiState:
    settings: Settings
    catalog: Catalog
    runner: GenerationRunner
    responses: ResponseStore = field(default_factory=ResponseStore)  # /v1/responses, in memory
    usage: UsageLog | None = None  # usage rows, when the API serves a library's client keys


@dataclass
class Prepared:
    """A request that fits: its backend, prompt size and output budget."""

    backend: Backend
    model: str  # as the client named it
    messages: list[Message]
    prompt_tokens: int
    max_new_tokens: int
    forced_thinking: bool | None


async def prepare(state: ApiState, model: str, messages: list[Message],
                  requested_output: int | None, tools: tuple[ToolSpec, ...] = ()) -> Prepared:
    resolved = await run_in_threadpool(state.catalog.resolve, model)
    backend, name, forced = resolved.backend, resolved.name, resolved.thinking
    prompt = await run_in_threadpool(_count, backend, messages, tools)
    room = backend.context_window - prompt
    if room <= 0:
        raise ContextOverflow(prompt, 0, backend.context_window)
    output = min(requested_output or DEFAULT_MAX_OUTPUT, room)
    return Prepared(backend, name, messages, prompt, output, forced)


async def count_prompt(state: ApiState, model: str, messages: list[Message],
                       tools: tuple[ToolSpec, ...] = ()) -> int:
    backend = (await run_in_threadpool(state.catalog.resolve, model)).backend
    return await run_in_threadpool(_count, backend, messages, tools)


def _count(backend: Backend, messages: list[Message], tools: tuple[ToolSpec, ...]) -> int:
    """Tools are counted as the template renders them; a backend without tools says so."""
    needs_tools = tools or any(m.tool_calls or m.role == "tool" for m in messages)
    if not needs_tools:
        return backend.count_tokens(messages)
    if not getattr(backend, "supports_tools", False):
        raise bad_request(f"tools are not supported by the {backend.name} backend serving "
                          f"{backend.model} yet", param="tools")
    return backend.count_tokens(messages, tools=tools)


@dataclass
class Opened:
    """A started generation: events already received, then the rest of the stream."""

    generation: Generation
    head: list[Event] = field(default_factory=list)
    meter: Meter | None = None  # the request's usage row, when the API keeps usage

    async def events(self) -> AsyncIterator[Event]:
        for event in self.head:
            self._note(event)
            yield event
        if self.head and isinstance(self.head[-1], Done):
            return
        async for event in self.generation:
            self._note(event)
            yield event

    def _note(self, event: Event) -> None:
        if self.meter is not None and isinstance(event, Usage):
            self.meter.usage = event


async def open_generation(state: ApiState, request: Request, prepared: Prepared,
                          params: GenerationParams) -> Opened:
    """Admit (429 when full), wait for a slot and for the first text or the end.

    Raises before any response is sent when the engine fails at once, so the client gets a
    proper error status; a client that disconnects meanwhile frees its place.
    """
    meter = getattr(request.state, "usage_meter", None)
    if meter is not None:
        meter.model = prepared.model
        meter.usage = Usage(prepared.prompt_tokens, 0)
        if state.settings.store_prompts:
            meter.set_prompt(prepared.messages)
    generation = state.runner.admit(prepared.backend, prepared.messages, params)
    opened = Opened(generation, meter=meter)

    async def first_events() -> None:
        await generation.start()
        async for event in generation:
            opened.head.append(event)
            if isinstance(event, (TextDelta, ThinkingDelta, ToolCallDelta)):
                if meter is not None:
                    meter.saw_token()
                return
            if isinstance(event, Done):
                return

    try:
        await unless_disconnected(request, first_events())
    except BaseException:
        generation.close()
        raise
    last = opened.head[-1] if opened.head else None
    if last is None or (isinstance(last, Done) and last.finish_reason == "error"):
        generation.close()
        reason = last.error if isinstance(last, Done) else "the stream ended without an answer"
        raise ApiError(500, "engine", f"the engine failed: {reason}")
    return opened


async def complete(state: ApiState, request: Request, prepared: Prepared,
                   params: GenerationParams) -> Completion:
    """The whole answer at once; an engine failure is a 500 rather than a partial answer."""
    opened = await open_generation(state, request, prepared, params)
    out = Completion()

    async def drain() -> None:
        async for event in opened.events():
            out.add(event)

    try:
        await unless_disconnected(request, drain())
    finally:
        opened.generation.close()
    if out.finish_reason == "error":
        raise ApiError(500, "engine", f"the engine failed: {out.error}")
    if out.usage is None:
        out.usage = Usage(prepared.prompt_tokens, 0)
    return out

