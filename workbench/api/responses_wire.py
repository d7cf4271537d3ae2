"""Wire models of OpenAI's Responses API (`POST /v1/responses`) and their mapping to the engine.

Owns the request schema -- `input` as a string or a list of items (messages with string or
`input_text`/`output_text` parts, `function_call` and `function_call_output` items),
`instructions`, `max_output_tokens`, `temperature`, `top_p`, flat function `tools`,
`tool_choice`, `parallel_tool_calls`, `text.format` (json_object / json_schema),
`previous_response_id`, `store`, `reasoning` -- its translation to `Message`s and
`GenerationParams` (the same fields and checks as Chat Completions, tool_wire.py), and the
`response` object built from a finished answer (thinking, asked for with `reasoning.effort`,
comes first as a `reasoning` item). `reasoning` items sent back by a client are skipped
(earlier turns' thinking is not fed back); other item and tool types are a 400 naming them.
Reference: platform.openai.com/docs/api-reference/responses.
Does not know HTTP, queues, stored responses or the backend.
"""
from __future__ import annotations

import uuid
from typing import Literal

from pydantic import ConfigDict, Field

from engine.events import GenerationParams, Message, ToolCall, ToolSpec

from .errors import bad_request
from .wire import loop_repeats
from .tool_wire import EMPTY_SCHEMA, checked_choice, checked_schema
from .tool_wire import WireModel as _Wire

_DEFAULTS = GenerationParams()


class InputPart(_Wire):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class InputItem(_Wire):
    """One input item; which fields matter depends on `type` (a message when absent)."""

    type: str = "message"
    role: Literal["user", "assistant", "system", "developer"] | None = None
    content: str | list[InputPart] | None = None
    call_id: str | None = None  # function_call, function_call_output
    name: str | None = None
    arguments: str | None = None
    output: str | list[InputPart] | None = None


class FunctionTool(_Wire):
    type: str = "function"
    name: str | None = None
    description: str | None = None
    parameters: dict | None = None
    strict: bool | None = None


class NamedChoice(_Wire):
    type: str
    name: str | None = None


class TextFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    schema_: dict | None = Field(None, alias="schema")
    strict: bool | None = None


class TextOptions(_Wire):
    format: TextFormat | None = None


class ReasoningOptions(_Wire):
    effort: str | None = None  # any effort but "none" turns a model's thinking mode on
    summary: str | None = None


class ResponsesRequest(_Wire):
    model: str
    input: str | list[InputItem]
    instructions: str | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    tools: list[FunctionTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedChoice | None = None
    parallel_tool_calls: bool = True
    text: TextOptions | None = None
    previous_response_id: str | None = None
    store: bool = True
    stream: bool = False
    metadata: dict | None = None
    reasoning: ReasoningOptions | None = None

    def input_messages(self, earlier: list[Message] = ()) -> list[Message]:
        """This request's own turns (without instructions, which do not carry over); a
        result's tool name comes from its call, here or in the `earlier` stored turns."""
        if isinstance(self.input, str):
            return [Message("user", self.input)]
        out: list[Message] = []
        names = {c.id: c.name for m in earlier for c in m.tool_calls}
        for i, item in enumerate(self.input):
            param = f"input[{i}]"
            if item.type == "message":
                if item.role is None:
                    raise bad_request("a message item needs a role", param=param)
                role = "system" if item.role == "developer" else item.role
                out.append(Message(role, _text(item.content, param)))
            elif item.type == "function_call":
                call = ToolCall(item.call_id or "", item.name or "", item.arguments or "{}")
                names[call.id] = call.name
                last = out[-1] if out else None
                if last is not None and last.role == "assistant":
                    out[-1] = Message("assistant", last.content,
                                      tool_calls=last.tool_calls + (call,))
                else:
                    out.append(Message("assistant", "", tool_calls=(call,)))
            elif item.type == "function_call_output":
                out.append(Message("tool", _text(item.output, param),
                                   tool_call_id=item.call_id, name=names.get(item.call_id)))
            elif item.type != "reasoning":
                raise bad_request(f"input item type {item.type!r} is not supported (this "
                                  "server takes message, function_call and "
                                  "function_call_output items)", param=param)
        return out

    def system_messages(self) -> list[Message]:
        return [Message("system", self.instructions)] if self.instructions else []

    def engine_tools(self) -> tuple[ToolSpec, ...]:
        out = []
        for i, t in enumerate(self.tools or []):
            if t.type != "function" or not t.name:
                raise bad_request(f"tool type {t.type!r} is not supported; define function "
                                  'tools: {"type": "function", "name", "parameters"}',
                                  param=f"tools[{i}]")
            out.append(ToolSpec(t.name, t.description or "", t.parameters or EMPTY_SCHEMA))
        return tuple(out)

    def choice(self, tools: tuple[ToolSpec, ...]) -> str:
        choice = self.tool_choice
        if choice is None:
            return "auto"
        if isinstance(choice, NamedChoice):
            if choice.type != "function" or not choice.name:
                raise bad_request('tool_choice must be none, auto, required or '
                                  '{"type": "function", "name": ...}', param="tool_choice")
            choice = choice.name
        return checked_choice(choice, tools, "tool_choice")

    def response_format(self) -> dict | None:
        fmt = self.text.format if self.text else None
        if fmt is None or fmt.type == "text":
            return None
        if fmt.type == "json_object":
            return {}
        if fmt.schema_ is None:
            raise bad_request("text.format json_schema needs a schema", param="text.format")
        return checked_schema(fmt.schema_, "text.format")

    def params(self, max_new_tokens: int) -> GenerationParams:
        tools = self.engine_tools()
        temperature = _DEFAULTS.temperature if self.temperature is None else self.temperature
        return GenerationParams(
            max_new_tokens=max_new_tokens, temperature=temperature,
            loop_repeats=loop_repeats(temperature),
            top_p=_DEFAULTS.top_p if self.top_p is None else self.top_p,
            thinking=self.reasoning is not None and self.reasoning.effort not in (None, "none"),
            tools=tools, tool_choice=self.choice(tools),
            parallel_tool_calls=self.parallel_tool_calls,
            response_format=self.response_format())


def _text(content: str | list[InputPart] | None, param: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for part in content:
        if part.type not in ("input_text", "output_text", "text") or part.text is None:
            raise bad_request(f"content part type {part.type!r} is not supported "
                              "(the local model reads text only)", param=param)
        texts.append(part.text)
    return "".join(texts)


# ---- the response object --------------------------------------------------------------------

def item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def message_item(text: str, item: str, status: str = "completed") -> dict:
    return {"id": item, "type": "message", "role": "assistant", "status": status,
            "content": [output_text(text)] if status == "completed" else []}


def output_text(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def reasoning_item(text: str, item: str, status: str = "completed") -> dict:
    """Thinking (DeepSeek's, on a model with a thinking mode) as a `reasoning` item."""
    content = [{"type": "reasoning_text", "text": text}] if status == "completed" else []
    return {"id": item, "type": "reasoning", "status": status, "summary": [],
            "content": content}


def call_item(call: ToolCall, item: str, status: str = "completed") -> dict:
    return {"id": item, "type": "function_call", "call_id": call.id, "name": call.name,
            "arguments": call.arguments, "status": status}


def usage_body(prompt: int, completion: int, cached: int) -> dict:
    return {"input_tokens": prompt, "output_tokens": completion,
            "total_tokens": prompt + completion,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens_details": {"reasoning_tokens": 0}}


def response_body(body: ResponsesRequest, response_id: str, created: int, model: str,
                  output: list[dict], status: str, usage: dict | None,
                  incomplete: str | None = None) -> dict:
    """The `response` object, in every state (`in_progress` has no output or usage yet)."""
    return {
        "id": response_id, "object": "response", "created_at": created, "model": model,
        "status": status, "output": output, "usage": usage, "error": None,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": body.instructions, "max_output_tokens": body.max_output_tokens,
        "metadata": body.metadata or {}, "parallel_tool_calls": body.parallel_tool_calls,
        "previous_response_id": body.previous_response_id, "store": body.store,
        "temperature": body.temperature, "top_p": body.top_p,
        "tool_choice": _choice_body(body.tool_choice),
        "tools": [t.model_dump(exclude_none=True) for t in body.tools or []],
        "text": {"format": (body.text.format.model_dump(by_alias=True, exclude_none=True)
                            if body.text and body.text.format else {"type": "text"})},
        "truncation": "disabled",
    }


def _choice_body(choice) -> object:
    if choice is None:
        return "auto"
    return choice if isinstance(choice, str) else choice.model_dump(exclude_none=True)


def output_messages(output: list[dict]) -> list[Message]:
    """The answer as history for the next turn (`previous_response_id`)."""
    text = "".join(p["text"] for item in output if item["type"] == "message"
                   for p in item["content"])
    calls = tuple(ToolCall(i["call_id"], i["name"], i["arguments"]) for i in output
                  if i["type"] == "function_call")
    return [Message("assistant", text, tool_calls=calls)]
