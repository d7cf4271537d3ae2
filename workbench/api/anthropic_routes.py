"""Anthropic Messages over the engine: `POST /v1/messages` and `/v1/messages/count_tokens`.

Owns the translation of engine events into a `message` body or the documented SSE sequence:
message_start (with input tokens), ping, then per content block content_block_start /
content_block_delta (text_delta, thinking_delta when thinking is enabled, input_json_delta for
a `tool_use` block, which starts with its id, name and an empty input) / content_block_stop,
then message_delta (stop_reason -- "tool_use" after a call -- and usage), then message_stop.
A failure after the stream began is an `event: error` frame, as Anthropic's API sends it.
Tool-call ids are the engine's (`call_...`), kept as they are so a conversation can move
between protocols.
Reference: docs.anthropic.com/en/docs/build-with-claude/streaming.
Does not know queues, budgets or the backend (service.py does).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import AsyncIterator

from fastapi import APIRouter, Request

from engine.events import Done, TextDelta, ThinkingDelta, ToolCallDelta, Usage

from . import service
from .errors import ApiError, as_api_error, error_body
from .service import ApiState, Opened, Prepared
from .sse import EventStreamResponse, event_frame
from .wire import AnthropicResponse, AnthropicUsage, CountTokensRequest, MessagesRequest

STOP_REASON = {"stop": "end_turn", "length": "max_tokens", "cancelled": "end_turn",
               "error": "end_turn", "tool_calls": "tool_use"}
EMPTY_BLOCK = {"text": {"type": "text", "text": ""},
               "thinking": {"type": "thinking", "thinking": "", "signature": ""}}
DELTA_FIELD = {"text": ("text_delta", "text"), "thinking": ("thinking_delta", "thinking"),
               "tool_call": ("input_json_delta", "partial_json")}


def add_routes(router: APIRouter, state: ApiState) -> None:
    @router.post("/v1/messages")
    async def messages(body: MessagesRequest, request: Request):
        params = body.params(body.max_tokens)  # checks tools and formats before counting
        prepared = await service.prepare(state, body.model, body.engine_messages(),
                                         body.max_tokens, params.tools)
        params = replace(params, max_new_tokens=prepared.max_new_tokens)
        if prepared.forced_thinking is not None:
            params = replace(params, thinking=prepared.forced_thinking)
        message_id = f"msg_{uuid.uuid4().hex}"
        if not body.stream:
            done = await service.complete(state, request, prepared, params)
            content = []
            if done.thinking:
                content.append({"type": "thinking", "thinking": done.thinking, "signature": ""})
            if done.text or not (content or done.tool_calls):
                content.append({"type": "text", "text": done.text})
            content += [{"type": "tool_use", "id": c.id, "name": c.name,
                         "input": _input(c.arguments)} for c in done.tool_calls]
            return AnthropicResponse(
                id=message_id, model=prepared.model, content=content,
                stop_reason=_stop_reason(done.finish_reason, done.stop_sequence),
                stop_sequence=done.stop_sequence,
                usage=_usage(done.usage)).model_dump()
        opened = await service.open_generation(state, request, prepared, params)
        frames = _frames(opened, prepared, message_id)
        return EventStreamResponse(frames, on_close=opened.generation.close)

    @router.post("/v1/messages/count_tokens")
    async def count_tokens(body: CountTokensRequest):
        return {"input_tokens": await service.count_prompt(state, body.model,
                                                           body.engine_messages(),
                                                           body.engine_tools())}


def _input(arguments: str) -> dict:
    """A call's arguments as an object; a call cut by max_tokens has none yet (`{}`)."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _block_start(index: int, event) -> bytes:
    if isinstance(event, ToolCallDelta):
        block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
    else:
        block = EMPTY_BLOCK[event.kind]
    return event_frame("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": block})


async def _frames(opened: Opened, prepared: Prepared, message_id: str) -> AsyncIterator[bytes]:
    yield event_frame("message_start", {"type": "message_start", "message": AnthropicResponse(
        id=message_id, model=prepared.model, content=[], stop_reason=None,
        usage=AnthropicUsage(input_tokens=prepared.prompt_tokens, output_tokens=0),
    ).model_dump()})
    yield event_frame("ping", {"type": "ping"})
    index, block = -1, None  # block: what the open block is ("text", "thinking", a call index)
    usage = Usage(prepared.prompt_tokens, 0)
    try:
        async for event in opened.events():
            if isinstance(event, (TextDelta, ThinkingDelta, ToolCallDelta)):
                key = ("call", event.index) if isinstance(event, ToolCallDelta) else event.kind
                if key != block:
                    if block is not None:
                        yield _block_stop(index)
                    index, block = index + 1, key
                    yield _block_start(index, event)
                delta_type, field = DELTA_FIELD[event.kind]
                piece = event.arguments if isinstance(event, ToolCallDelta) else event.text
                yield event_frame("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": delta_type, field: piece}})
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, Done):
                if event.finish_reason == "error":
                    raise ApiError(500, "engine", f"the engine failed: {event.error}")
                if block is not None:
                    yield _block_stop(index)
                yield event_frame("message_delta", {
                    "type": "message_delta",
                    "delta": {"stop_reason": _stop_reason(event.finish_reason,
                                                          event.stop_sequence),
                              "stop_sequence": event.stop_sequence},
                    "usage": _usage(usage).model_dump(
                        exclude={"cache_creation_input_tokens"})})
                yield event_frame("message_stop", {"type": "message_stop"})
    except Exception as exc:  # headers are sent: the error travels as an `error` event
        yield event_frame("error", error_body(as_api_error(exc), "anthropic"))


def _usage(usage: Usage) -> AnthropicUsage:
    """Anthropic's split: input_tokens are the prompt tokens not read from the cache."""
    cached = usage.cached_tokens
    return AnthropicUsage(input_tokens=usage.prompt_tokens - cached,
                          output_tokens=usage.completion_tokens, cache_read_input_tokens=cached)


def _stop_reason(finish: str, stop_sequence: str | None) -> str:
    """`stop_sequence` when a stop string ended the answer, else the mapped finish reason."""
    return "stop_sequence" if finish == "stop" and stop_sequence else STOP_REASON[finish]


def _block_stop(index: int) -> bytes:
    return event_frame("content_block_stop", {"type": "content_block_stop", "index": index})
