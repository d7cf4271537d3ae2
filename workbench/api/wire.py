"""Wire models: the JSON both protocols send and receive, and their mapping to the engine.

Owns the request schemas of OpenAI Chat Completions and Anthropic Messages (pydantic; unknown
fields are ignored as the vendors' servers do, wrong types are a 400) and their translation to
`Message`/`GenerationParams`: tool calls in history and tool results become the engine's
`tool_calls` and "tool" messages; tool definitions and choices come from tool_wire.py.
Anthropic `role: "system"` turns inside `messages` are folded into the system prompt in order.
Content the local model cannot take (images) is a clear 400, never silently dropped.
Response bodies are built by the routes from these models' `model_dump()`.
References: platform.openai.com/docs/api-reference/chat, docs.anthropic.com/en/api/messages.
Does not know HTTP, queues or the backend.
"""
from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.events import GenerationParams, Message, ToolCall, ToolSpec

from .errors import bad_request
from .tool_wire import (AnthropicTool, AnthropicToolChoice, OpenAINamedChoice, OpenAITool,
                        OutputFormat, ResponseFormat, anthropic_choice, anthropic_tools,
                        checked_schema, openai_choice, openai_format, openai_tools)
from .tool_wire import WireModel as _Wire

MAX_STOP_SEQUENCES = 16
# A request that names no temperature gets the engine's default (greedy), as in the UI and CLI;
# current Anthropic SDKs no longer send one at all.
_DEFAULTS = GenerationParams()
# Greedy decoding can fall into a loop it never leaves (a small model repeating one sentence
# until max_tokens; Claude Code then asks again). The same sentence this many times in a row
# ends the answer ("stop"); engine/loop_guard.py says why this spares code and tables.
GREEDY_LOOP_REPEATS = 4


def loop_repeats(temperature: float) -> int:
    return GREEDY_LOOP_REPEATS if temperature <= 0 else 0


# ---- OpenAI Chat Completions ----------------------------------------------------------------

class OpenAIPart(_Wire):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class OpenAIFunctionCall(_Wire):
    name: str
    arguments: str = "{}"


class OpenAIToolCall(_Wire):
    id: str
    type: Literal["function"] = "function"
    function: OpenAIFunctionCall


class OpenAIMessage(_Wire):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[OpenAIPart] | None = None
    tool_calls: list[OpenAIToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class StreamOptions(_Wire):
    include_usage: bool = False


class ThinkingOption(_Wire):
    """DeepSeek's switch for thinking mode on its OpenAI-compatible API; also Anthropic's."""

    type: Literal["enabled", "disabled", "adaptive"] = "enabled"
    budget_tokens: int | None = None


class ChatCompletionRequest(_Wire):
    model: str
    messages: list[OpenAIMessage] = Field(min_length=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1
    logprobs: bool | None = None
    thinking: ThinkingOption | None = None
    tools: list[OpenAITool] | None = None
    tool_choice: Literal["none", "auto", "required"] | OpenAINamedChoice | None = None
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = None
    functions: list | None = None  # the deprecated spelling of tools: refused, not ignored

    def engine_messages(self) -> list[Message]:
        out, names = [], {}
        for i, m in enumerate(self.messages):
            text = _openai_text(m.content, i)
            if m.role in ("tool", "function"):
                call_id = m.tool_call_id or ""
                out.append(Message("tool", text, tool_call_id=call_id,
                                   name=m.name or names.get(call_id)))
                continue
            calls = tuple(ToolCall(c.id, c.function.name, c.function.arguments)
                          for c in m.tool_calls or [])
            names.update((c.id, c.name) for c in calls)
            role = "system" if m.role == "developer" else m.role
            out.append(Message(role, text, tool_calls=calls))
        return out

    def engine_tools(self) -> tuple[ToolSpec, ...]:
        return openai_tools(self.tools)

    def requested_output(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @model_validator(mode="after")
    def _supported(self) -> "ChatCompletionRequest":
        if self.n != 1:
            raise ValueError("only n=1 is supported")
        if self.logprobs:
            raise ValueError("logprobs are not supported")
        if self.functions:
            raise ValueError("the deprecated functions/function_call fields are not supported; "
                             "send the same definitions as tools (and tool_choice)")
        return self

    def params(self, max_new_tokens: int) -> GenerationParams:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        tools = self.engine_tools()
        temperature = _DEFAULTS.temperature if self.temperature is None else self.temperature
        return GenerationParams(
            max_new_tokens=max_new_tokens, temperature=temperature,
            loop_repeats=loop_repeats(temperature),
            top_p=_DEFAULTS.top_p if self.top_p is None else self.top_p,
            stop=_stops(stop, "stop"), seed=self.seed,
            thinking=self.thinking is not None and self.thinking.type != "disabled",
            tools=tools, tool_choice=openai_choice(self.tool_choice, tools),
            parallel_tool_calls=self.parallel_tool_calls,
            response_format=openai_format(self.response_format))


def _openai_text(content: str | list[OpenAIPart] | None, index: int) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for part in content:
        if part.type != "text" or part.text is None:
            raise bad_request(f"content part type {part.type!r} is not supported "
                              "(the local model reads text only)",
                              param=f"messages[{index}].content")
        texts.append(part.text)
    return "".join(texts)


def _stops(stops: list[str], param: str) -> tuple[str, ...]:
    if len(stops) > MAX_STOP_SEQUENCES:
        raise bad_request(f"at most {MAX_STOP_SEQUENCES} stop sequences", param=param)
    if any(s == "" for s in stops):
        raise bad_request("stop sequences must not be empty", param=param)
    return tuple(stops)


class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0  # prompt tokens read from the engine's prefix cache


class OpenAIUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails = Field(default_factory=PromptTokensDetails)


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: None = None
    reasoning_content: str | None = None
    tool_calls: list[dict] | None = None


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: str
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: OpenAIUsage
    system_fingerprint: str = "longhand"


class ChunkChoice(BaseModel):
    index: int = 0
    delta: dict
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: OpenAIUsage | None = None
    system_fingerprint: str = "longhand"


# ---- Anthropic Messages ---------------------------------------------------------------------

class AnthropicBlock(_Wire):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None
    id: str | None = None  # tool_use
    name: str | None = None
    input: dict | None = None
    tool_use_id: str | None = None  # tool_result
    content: str | list["AnthropicBlock"] | None = None
    is_error: bool = False


class AnthropicMessage(_Wire):
    role: Literal["user", "assistant", "system"]
    content: str | list[AnthropicBlock]


class _AnthropicPrompt(_Wire):
    model: str
    messages: list[AnthropicMessage] = Field(min_length=1)
    system: str | list[AnthropicBlock] | None = None
    thinking: ThinkingOption | None = None
    tools: list[AnthropicTool] | None = None

    def engine_messages(self) -> list[Message]:
        """System text first (the `system` field, then every system turn, in order); volatile
        header lines (Claude Code's billing header) are dropped so the prefix cache still hits."""
        systems = [_without_volatile_lines(_anthropic_text(self.system, "system"))] \
            if self.system else []
        out: list[Message] = []
        names: dict[str, str] = {}
        for i, m in enumerate(self.messages):
            param = f"messages[{i}].content"
            if m.role == "system":
                systems.append(_anthropic_text(m.content, param))
            elif m.role == "assistant":
                out.append(_assistant_turn(m.content, param, names))
            else:
                out.extend(_user_turns(m.content, param, names))
        system = "\n\n".join(s for s in systems if s)
        return ([Message("system", system)] if system else []) + out

    def engine_tools(self) -> tuple[ToolSpec, ...]:
        return anthropic_tools(self.tools)

    @property
    def thinking_enabled(self) -> bool:
        return self.thinking is not None and self.thinking.type != "disabled"


def _assistant_turn(content, param: str, names: dict[str, str]) -> Message:
    if isinstance(content, str):
        return Message("assistant", content)
    calls = tuple(ToolCall(b.id or "", b.name or "", json.dumps(b.input or {}))
                  for b in content if b.type == "tool_use")
    names.update((c.id, c.name) for c in calls)
    text = _anthropic_text([b for b in content if b.type != "tool_use"], param)
    return Message("assistant", text, tool_calls=calls)


def _user_turns(content, param: str, names: dict[str, str]) -> list[Message]:
    """Tool results become "tool" turns and the text around them user turns, in order."""
    if isinstance(content, str):
        return [Message("user", content)]
    out, texts = [], []
    for block in content:
        if block.type != "tool_result":
            texts.append(block)
            continue
        if texts:
            out.append(Message("user", _anthropic_text(texts, param)))
            texts = []
        result = _anthropic_text(block.content or "", param)
        out.append(Message("tool", result, tool_call_id=block.tool_use_id,
                           name=names.get(block.tool_use_id or ""), is_error=block.is_error))
    if texts or not out:
        out.append(Message("user", _anthropic_text(texts, param)))
    return out


def _anthropic_text(content: str | list[AnthropicBlock], param: str) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for block in content:
        if block.type in ("thinking", "redacted_thinking"):
            continue  # earlier turns' thinking is not fed back, as on Anthropic's API
        if block.type != "text" or block.text is None:
            raise bad_request(f"content block type {block.type!r} is not supported "
                              "(the local model reads text only)", param=param)
        texts.append(block.text)
    return "\n\n".join(texts) if param == "system" else "".join(texts)


VOLATILE_PREFIXES = ("x-anthropic-billing-header:",)


def _without_volatile_lines(text: str) -> str:
    """The system prompt without lines that change on every request (Claude Code puts
    `x-anthropic-billing-header: ...` in system[0]): they carry nothing for the model and
    would end the shared prefix, defeating the engine's prefix cache."""
    lines = text.split("\n")
    kept = [line for line in lines if not line.lstrip().startswith(VOLATILE_PREFIXES)]
    return text if len(kept) == len(lines) else "\n".join(kept).strip("\n")


class MessagesRequest(_AnthropicPrompt):
    max_tokens: int = Field(ge=1)
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=0)
    stop_sequences: list[str] | None = None
    stream: bool = False
    tool_choice: AnthropicToolChoice | None = None
    output_format: OutputFormat | None = None
    output_config: dict | None = None

    def params(self, max_new_tokens: int) -> GenerationParams:
        tools = self.engine_tools()
        temperature = _DEFAULTS.temperature if self.temperature is None else self.temperature
        return GenerationParams(
            max_new_tokens=max_new_tokens, temperature=temperature,
            loop_repeats=loop_repeats(temperature),
            top_p=_DEFAULTS.top_p if self.top_p is None else self.top_p,
            stop=_stops(list(self.stop_sequences or []), "stop_sequences"),
            thinking=self.thinking_enabled,
            tools=tools, tool_choice=anthropic_choice(self.tool_choice, tools),
            parallel_tool_calls=not (self.tool_choice and
                                     self.tool_choice.disable_parallel_tool_use),
            response_format=self._output_schema())

    def _output_schema(self) -> dict | None:
        fmt = self.output_format
        if fmt is None and isinstance((self.output_config or {}).get("format"), dict):
            fmt = OutputFormat(**self.output_config["format"])
        if fmt is None:
            return None
        if fmt.schema_ is None:
            raise bad_request("output_format needs a schema", param="output_format")
        return checked_schema(fmt.schema_, "output_format")


class CountTokensRequest(_AnthropicPrompt):
    pass


class AnthropicUsage(BaseModel):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


class AnthropicResponse(BaseModel):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[dict]
    stop_reason: str | None
    stop_sequence: str | None = None
    usage: AnthropicUsage


# ---- Models listing (one shape both SDKs read) ---------------------------------------------

class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    type: Literal["model"] = "model"
    created: int = 0
    created_at: str = "1970-01-01T00:00:00Z"
    owned_by: str = "longhand"
    display_name: str
    context_window: int | None = None  # read by Longhand's own remote backends
    max_input_tokens: int | None = None  # the same window, under the name LiteLLM reads


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None
