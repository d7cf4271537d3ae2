"""OpenAI Responses API over the engine: `POST /v1/responses` (stream or not) and
`GET /v1/responses/{id}`, for the Agents SDK and Codex-style clients.

Owns the translation of engine events into a `response` object or the documented SSE events:
response.created, response.in_progress, then per output item response.output_item.added --
for text response.content_part.added, response.output_text.delta ..., response.output_text.done,
response.content_part.done; for a call response.function_call_arguments.delta ...,
response.function_call_arguments.done; for thinking response.reasoning_text.delta ...,
response.reasoning_text.done -- and response.output_item.done, then
response.completed (or response.incomplete when max_output_tokens ran out). Every event
carries a `sequence_number`. A failure after the stream began is an `error` event.
The generation path is the Chat Completions one (service.py: the same Message list, tools,
constrained decoding, budget and queue); a turn with `previous_response_id` continues the
stored conversation (responses_store.py) and is stored in turn unless `store: false`.
Reference: platform.openai.com/docs/api-reference/responses-streaming.
Does not know queues, budgets or the backend (service.py does).
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import AsyncIterator

from fastapi import APIRouter, Request

from engine.events import Done, TextDelta, ThinkingDelta, ToolCall, ToolCallDelta, Usage

from . import service
from .errors import ApiError, as_api_error, bad_request, error_body
from .responses_wire import (ResponsesRequest, call_item, item_id, message_item, output_messages,
                             output_text, reasoning_item, response_body, usage_body)
from .service import ApiState, Opened, Prepared
from .sse import EventStreamResponse, event_frame


def add_routes(router: APIRouter, state: ApiState) -> None:
    @router.post("/v1/responses")
    async def create_response(body: ResponsesRequest, request: Request):
        params = body.params(1)  # checks tools and formats before anything is counted
        history = list(state.responses.get(body.previous_response_id).messages) \
            if body.previous_response_id else []
        history += body.input_messages(history)
        if not history:
            raise bad_request("input is empty: send a string or at least one item",
                              param="input")
        prepared = await service.prepare(state, body.model, body.system_messages() + history,
                                         body.max_output_tokens, params.tools)
        params = replace(params, max_new_tokens=prepared.max_new_tokens)
        if prepared.forced_thinking is not None:
            params = replace(params, thinking=prepared.forced_thinking)
        turn = _Turn(state, body, prepared, history)
        if not body.stream:
            done = await service.complete(state, request, prepared, params)
            output = [reasoning_item(done.thinking, item_id("rs"))] if done.thinking else []
            if done.text or not done.tool_calls:
                output.append(message_item(done.text, item_id("msg")))
            output += [call_item(c, item_id("fc")) for c in done.tool_calls]
            return turn.finish(output, done.finish_reason, done.usage)
        opened = await service.open_generation(state, request, prepared, params)
        return EventStreamResponse(_frames(opened, turn), on_close=opened.generation.close)

    @router.get("/v1/responses/{response_id}")
    async def get_response(response_id: str):
        return state.responses.get(response_id, param="response_id").body


class _Turn:
    """One response's identity, and its end: the final body, stored unless `store: false`."""

    def __init__(self, state: ApiState, body: ResponsesRequest, prepared: Prepared,
                 history: list):
        self.state, self.body, self.prepared, self.history = state, body, prepared, history
        self.id, self.created = item_id("resp"), int(time.time())

    def snapshot(self, output: list[dict], status: str, usage: dict | None = None,
                 incomplete: str | None = None) -> dict:
        return response_body(self.body, self.id, self.created, self.prepared.model, output,
                             status, usage, incomplete)

    def finish(self, output: list[dict], finish_reason: str, usage: Usage | None) -> dict:
        usage = usage or Usage(self.prepared.prompt_tokens, 0)
        cut = finish_reason == "length"
        body = self.snapshot(output, "incomplete" if cut else "completed",
                             usage_body(usage.prompt_tokens, usage.completion_tokens,
                                        usage.cached_tokens),
                             "max_output_tokens" if cut else None)
        if self.body.store:
            self.state.responses.put(self.id, self.history + output_messages(output), body)
        return body


async def _frames(opened: Opened, turn: _Turn) -> AsyncIterator[bytes]:
    seq = 0

    def frame(kind: str, **fields) -> bytes:
        nonlocal seq
        seq += 1
        return event_frame(kind, {"type": kind, "sequence_number": seq - 1, **fields})

    yield frame("response.created", response=turn.snapshot([], "in_progress"))
    yield frame("response.in_progress", response=turn.snapshot([], "in_progress"))
    output: list[dict] = []
    open_item: dict | None = None  # the item being streamed: a message or a function_call
    usage = None

    def close() -> list[bytes]:
        nonlocal open_item
        item, index, open_item = open_item, len(output), None
        if item is None:
            return []
        ref = {"item_id": item["id"], "output_index": index}
        if item["type"] == "message":
            text = item.pop("text")
            part = output_text(text)
            done = {**item, "status": "completed", "content": [part]}
            frames = [frame("response.output_text.done", **ref, content_index=0, text=text,
                            logprobs=[]),
                      frame("response.content_part.done", **ref, content_index=0, part=part)]
        elif item["type"] == "reasoning":
            text = item.pop("text")
            done = {**item, "status": "completed",
                    "content": [{"type": "reasoning_text", "text": text}]}
            frames = [frame("response.reasoning_text.done", **ref, content_index=0, text=text)]
        else:
            done = {**item, "status": "completed"}
            frames = [frame("response.function_call_arguments.done", **ref,
                            name=item["name"], arguments=item["arguments"])]
        output.append(done)
        return frames + [frame("response.output_item.done", output_index=index, item=done)]

    def start(item: dict) -> list[bytes]:
        nonlocal open_item
        frames = close()
        open_item = item
        shown = {k: v for k, v in item.items() if k != "text"}
        frames.append(frame("response.output_item.added", output_index=len(output),
                            item={**shown, "status": "in_progress"}))
        if item["type"] == "message":
            frames.append(frame("response.content_part.added", item_id=item["id"],
                                output_index=len(output), content_index=0,
                                part=output_text("")))
        return frames

    try:
        async for event in opened.events():
            if isinstance(event, TextDelta):
                if open_item is None or open_item["type"] != "message":
                    for f in start({**message_item("", item_id("msg"), "in_progress"),
                                    "text": ""}):
                        yield f
                open_item["text"] += event.text
                yield frame("response.output_text.delta", item_id=open_item["id"],
                            output_index=len(output), content_index=0, delta=event.text,
                            logprobs=[])
            elif isinstance(event, ThinkingDelta):
                if open_item is None or open_item["type"] != "reasoning":
                    for f in start({**reasoning_item("", item_id("rs"), "in_progress"),
                                    "text": ""}):
                        yield f
                open_item["text"] += event.text
                yield frame("response.reasoning_text.delta", item_id=open_item["id"],
                            output_index=len(output), content_index=0, delta=event.text)
            elif isinstance(event, ToolCallDelta):
                if event.id is not None:
                    call = ToolCall(event.id, event.name or "", "")
                    for f in start(call_item(call, item_id("fc"), "in_progress")):
                        yield f
                open_item["arguments"] += event.arguments
                yield frame("response.function_call_arguments.delta", item_id=open_item["id"],
                            output_index=len(output), delta=event.arguments)
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, Done):
                if event.finish_reason == "error":
                    raise ApiError(500, "engine", f"the engine failed: {event.error}")
                if not any(i["type"] != "reasoning" for i in output) and (
                        open_item is None or open_item["type"] == "reasoning"):
                    # an empty answer is still a message
                    for f in start({**message_item("", item_id("msg"), "in_progress"),
                                    "text": ""}):
                        yield f
                for f in close():
                    yield f
                body = turn.finish(output, event.finish_reason, usage)
                kind = "response.completed" if body["status"] == "completed" \
                    else "response.incomplete"
                yield frame(kind, response=body)
    except Exception as exc:  # headers are sent: the error travels as an `error` event
        err = error_body(as_api_error(exc), "openai")["error"]
        yield frame("error", code=err["code"] or err["type"], message=err["message"],
                    param=err["param"])
