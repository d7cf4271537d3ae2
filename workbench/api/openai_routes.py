"""OpenAI Chat Completions over the engine: `POST /v1/chat/completions`, stream or not.

Owns the translation of engine events into `chat.completion` bodies and
`chat.completion.chunk` SSE frames: a first chunk with the role, one chunk per text delta
(`reasoning_content` for thinking, as DeepSeek's API does), `tool_calls` deltas with `index`
on every one and `id`, `type` and `name` on a call's first (what the openai SDK, Codex and
Continue merge calls by), a last chunk with `finish_reason` ("tool_calls" after a call),
then -- when `stream_options.include_usage` -- a chunk with empty `choices` and the usage, then
`data: [DONE]`. A failure after text has been sent arrives as a `data: {"error": ...}` frame,
which the openai SDK raises as an APIError.
Reference: platform.openai.com/docs/api-reference/chat-streaming.
Does not know queues, budgets or the backend (service.py does).
"""
from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import AsyncIterator

from fastapi import APIRouter, Request

from engine.events import Done, TextDelta, ThinkingDelta, ToolCall, ToolCallDelta, Usage

from . import service
from .errors import ApiError, as_api_error, error_body
from .service import ApiState, Opened, Prepared
from .sse import DONE_FRAME, EventStreamResponse, data_frame
from .wire import (ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Choice,
                   ChunkChoice, OpenAIUsage, PromptTokensDetails, ResponseMessage)

FINISH = {"stop": "stop", "length": "length", "cancelled": "stop", "error": "stop",
          "tool_calls": "tool_calls"}


def add_routes(router: APIRouter, state: ApiState) -> None:
    @router.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request):
        params = body.params(1)  # checks tools and formats before anything is counted
        prepared = await service.prepare(state, body.model, body.engine_messages(),
                                         body.requested_output(), params.tools)
        params = replace(params, max_new_tokens=prepared.max_new_tokens)
        if prepared.forced_thinking is not None:
            params = replace(params, thinking=prepared.forced_thinking)
        call_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not body.stream:
            done = await service.complete(state, request, prepared, params)
            usage = _usage(done.usage)
            return ChatCompletion(
                id=call_id, created=created, model=prepared.model, usage=usage,
                choices=[Choice(message=ResponseMessage(
                    content=done.text or (None if done.tool_calls else ""),
                    reasoning_content=done.thinking or None,
                    tool_calls=[_call(c) for c in done.tool_calls] or None),
                    finish_reason=FINISH[done.finish_reason])]).model_dump()
        opened = await service.open_generation(state, request, prepared, params)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        frames = _frames(opened, prepared, call_id, created, include_usage)
        return EventStreamResponse(frames, on_close=opened.generation.close)


def _call(call: ToolCall) -> dict:
    return {"id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments}}


def _call_delta(event: ToolCallDelta) -> dict:
    delta: dict = {"index": event.index, "function": {"arguments": event.arguments}}
    if event.id is not None:
        delta.update(id=event.id, type="function")
        delta["function"]["name"] = event.name
    return {"tool_calls": [delta]}


def _usage(usage: Usage) -> OpenAIUsage:
    return OpenAIUsage(prompt_tokens=usage.prompt_tokens,
                       completion_tokens=usage.completion_tokens,
                       total_tokens=usage.prompt_tokens + usage.completion_tokens,
                       prompt_tokens_details=PromptTokensDetails(
                           cached_tokens=usage.cached_tokens))


async def _frames(opened: Opened, prepared: Prepared, call_id: str, created: int,
                  include_usage: bool) -> AsyncIterator[bytes]:
    def chunk(delta: dict, finish: str | None = None, usage: OpenAIUsage | None = None,
              choices: bool = True) -> bytes:
        body = ChatCompletionChunk(
            id=call_id, created=created, model=prepared.model, usage=usage,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)] if choices else [])
        return data_frame(body.model_dump(exclude={"usage"} if usage is None else set()))

    yield chunk({"role": "assistant", "content": ""})
    usage = Usage(prepared.prompt_tokens, 0)
    try:
        async for event in opened.events():
            if isinstance(event, TextDelta):
                yield chunk({"content": event.text})
            elif isinstance(event, ThinkingDelta):
                yield chunk({"reasoning_content": event.text})
            elif isinstance(event, ToolCallDelta):
                yield chunk(_call_delta(event))
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, Done):
                if event.finish_reason == "error":
                    raise ApiError(500, "engine", f"the engine failed: {event.error}")
                yield chunk({}, finish=FINISH[event.finish_reason])
    except Exception as exc:  # headers are sent: the error travels as the last frame
        yield data_frame(error_body(as_api_error(exc), "openai"))
        return
    if include_usage:
        yield chunk({}, usage=_usage(usage), choices=False)
    yield DONE_FRAME
