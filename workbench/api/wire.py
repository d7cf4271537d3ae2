"""Wire models: the JSON both protocols send and receive, and their mapping to the engine.

Owns the request schemas of OpenAI Chat Completions and Anthropic Messages (pydantic; unknown
fields are ignored as the vendors' servers do, wrong types are a 400) and their translation to
`Message`/`GenerationParams`. Content the local model cannot take (images, tool calls) is a
clear 400, never silently dropped; `tools` definitions are accepted and unused (see README).
Response bodies are built by the routes from these models' `model_dump()`.
References: platform.openai.com/docs/api-reference/chat, docs.anthropic.com/en/api/messages.
Does not know HTTP, queues or the backend.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.backends.base import GenerationParams, Message

from .errors import bad_request

MAX_STOP_SEQUENCES = 16
# A request that names no temperature gets the engine's default (greedy), as in the UI and CLI;
# current Anthropic SDKs no longer send one at all.
_DEFAULTS = GenerationParams()


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- OpenAI Chat Completions ----------------------------------------------------------------

class OpenAIPart(_Wire):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class OpenAIMessage(_Wire):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[OpenAIPart] | None = None


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

    def engine_messages(self) -> list[Message]:
        out = []
        for i, m in enumerate(self.messages):
            if m.role in ("tool", "function"):
                raise bad_request("tool results are not supported by this server "
                                  "(it serves plain chat)", param=f"messages[{i}].role")
            role = "system" if m.role == "developer" else m.role
            out.append(Message(role, _openai_text(m.content, i)))
        return out

    def requested_output(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @model_validator(mode="after")
    def _supported(self) -> "ChatCompletionRequest":
        if self.n != 1:
            raise ValueError("only n=1 is supported")
        if self.logprobs:
            raise ValueError("logprobs are not supported")
        return self

    def params(self, max_new_tokens: int) -> GenerationParams:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return GenerationParams(
            max_new_tokens=max_new_tokens,
            temperature=_DEFAULTS.temperature if self.temperature is None else self.temperature,
            top_p=_DEFAULTS.top_p if self.top_p is None else self.top_p,
            stop=_stops(stop, "stop"), seed=self.seed,
            thinking=self.thinking is not None and self.thinking.type != "disabled")


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
    content: str
    refusal: None = None
    reasoning_content: str | None = None


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


class AnthropicMessage(_Wire):
    role: Literal["user", "assistant"]
    content: str | list[AnthropicBlock]


class _AnthropicPrompt(_Wire):
    model: str
    messages: list[AnthropicMessage] = Field(min_length=1)
    system: str | list[AnthropicBlock] | None = None
    thinking: ThinkingOption | None = None

    def engine_messages(self) -> list[Message]:
        out = []
        system = _without_volatile_lines(_anthropic_text(self.system, "system")) \
            if self.system else ""
        if system:
            out.append(Message("system", system))
        for i, m in enumerate(self.messages):
            out.append(Message(m.role, _anthropic_text(m.content, f"messages[{i}].content")))
        return out

    @property
    def thinking_enabled(self) -> bool:
        return self.thinking is not None and self.thinking.type != "disabled"


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

    def params(self) -> GenerationParams:
        return GenerationParams(
            max_new_tokens=self.max_tokens,
            temperature=_DEFAULTS.temperature if self.temperature is None else self.temperature,
            top_p=_DEFAULTS.top_p if self.top_p is None else self.top_p,
            stop=_stops(list(self.stop_sequences or []), "stop_sequences"),
            thinking=self.thinking_enabled)


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


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None
