"""Backend for any server speaking OpenAI Chat Completions, through the official `openai` SDK.

Why: the DeepSeek API, vLLM, SGLang, llama.cpp's server, LM Studio, Ollama and Longhand's own
HTTP API all speak it. Streaming deltas map to our events: `content` -> TextDelta,
`reasoning_content` (DeepSeek, SGLang; `reasoning` in newer vLLM) -> ThinkingDelta, `<think>`
spans left in `content` by servers without a reasoning parser are split the same way as locally.
Thinking is requested as DeepSeek's `thinking: {type: enabled}` plus vLLM/SGLang's
`chat_template_kwargs`, only when asked for. Tools, tool calls and results travel through
remote_tools.py; streamed `tool_calls` deltas come back as ToolCallDelta events.

Does not know: tokenization (the factory supplies a counter, engine/backends/remote_tokens.py:
the given tokenizer, or the embedded one as an estimate) or model names.
"""
from __future__ import annotations

import threading
from typing import Iterator

from engine.backends import remote_tools
from engine.events import Done, Event, GenerationParams, Message, ThinkingDelta, Usage
from engine.backends.server_info import (check_remote_args, choose_window,
                                         window_from_entry)
from engine.errors import BackendUnavailable, EngineError

FINISH = {"stop": "stop", "length": "length", "content_filter": "stop",
          "tool_calls": "tool_calls"}


class OpenAICompatBackend:
    name = "openai_compat"
    supports_tools = True

    def __init__(self, model: str, base_url: str, api_key: str | None = None, *,
                 context_window: int | None = None, force_thinking: bool | None = None,
                 counter=None, timeout: float = 600.0, probe: bool = True,
                 name: str | None = None):
        import openai

        self.base_url = check_remote_args(model, base_url, context_window)
        self.remote_model = model  # the id the server knows
        self.model = name or model  # the name the user chose (add-model NAME)
        self.force_thinking = force_thinking
        self.counter = counter
        self._configured_window = context_window
        # Local servers ignore the key; the SDK refuses an empty one, so send a placeholder.
        self.client = openai.OpenAI(base_url=self.base_url, api_key=api_key or "not-needed",
                                    timeout=timeout, max_retries=0)
        # The window decides every budget, so it is known before the backend exists: asked of
        # the server (probe=False trusts the configured value and sends nothing).
        server = self._server_window() if probe else None
        self.context_window = choose_window(server, context_window, model, self.base_url)

    def _server_window(self) -> int | None:
        import openai

        try:
            page = self.client.models.list()
        except openai.NotFoundError:
            return None  # a server without /v1/models: configuration decides
        except openai.APIError as exc:
            raise _unavailable(exc, self.base_url) from exc
        for entry in page.data:
            if entry.id == self.remote_model:
                return window_from_entry(entry.model_dump())
        return None

    @property
    def count_estimate(self) -> str | None:
        """Why the counts are an estimate (budgets show it), or None when they are exact."""
        return getattr(self.counter, "estimate", None)

    def count_tokens(self, messages: list[Message], tools=()) -> int:
        if self.counter is not None:  # tools as the Hermes fallback writes them: an estimate
            from engine.tools.render import fallback_chat

            return self.counter.count_messages(fallback_chat(messages, tuple(tools)))
        raise EngineError(
            f"{self.base_url} speaks OpenAI Chat Completions, which has no token-counting "
            "endpoint; give this model a tokenizer (add-model --tokenizer) to budget its prompts")

    def _request(self, messages: list[Message], params: GenerationParams) -> dict:
        thinking = params.thinking if self.force_thinking is None else self.force_thinking
        request: dict = {
            "model": self.remote_model,
            "messages": remote_tools.openai_messages(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
        }
        if params.top_p < 1.0:
            request["top_p"] = params.top_p
        if params.stop:
            request["stop"] = list(params.stop)[:4]
        if params.seed is not None:
            request["seed"] = params.seed
        if params.repetition_penalty > 1.0:  # the protocol's nearest knob (range -2..2)
            request["frequency_penalty"] = round(min(2.0, 2 * (params.repetition_penalty - 1)),
                                                 3)
        request.update(remote_tools.openai_tool_fields(params))
        if thinking:
            request["extra_body"] = {
                "thinking": {"type": "enabled"},
                "chat_template_kwargs": {"thinking": True, "enable_thinking": True},
            }
        return request

    def stream(self, messages: list[Message], params: GenerationParams,
               cancel: threading.Event | None = None) -> Iterator[Event]:
        import openai

        from engine.generation import StreamSplitter
        from engine.loop_guard import filter_events, guard_for

        try:
            response = self.client.chat.completions.create(**self._request(messages, params))
        except openai.APIError as exc:
            raise _unavailable(exc, self.base_url) from exc
        splitter = StreamSplitter(params.stop, thinking=False)
        guard = guard_for(params)  # applied here: no server knows it
        usage, finish, deltas = None, "stop", 0
        try:
            for chunk in response:
                if cancel is not None and cancel.is_set():
                    finish = "cancelled"
                    break
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens or 0,
                                  chunk.usage.completion_tokens or 0)
                for choice in chunk.choices:
                    delta = choice.delta
                    extra = delta.model_extra or {}
                    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
                    if reasoning:
                        deltas += 1
                        yield ThinkingDelta(reasoning)
                    if delta.content:
                        deltas += 1
                        yield from filter_events(guard, splitter.feed(delta.content))
                    yield from remote_tools.openai_tool_deltas(delta)
                    if choice.finish_reason:
                        finish = FINISH.get(choice.finish_reason, "stop")
                if splitter.stopped or guard is not None and guard.tripped:
                    finish = "stop"
                    break
        except openai.APIError as exc:
            yield Usage(0, deltas) if usage is None else usage
            yield Done("error", error=str(_unavailable(exc, self.base_url)))
            return
        finally:
            response.close()
        tripped = guard.tripped if guard is not None else None
        if not splitter.stopped and not tripped:
            yield from filter_events(guard, splitter.feed("", final=True), final=True)
        yield usage or Usage(self._prompt_tokens(messages), deltas)
        yield Done(finish, guard=tripped)

    def _prompt_tokens(self, messages: list[Message]) -> int:
        return self.count_tokens(messages) if self.counter is not None else 0


def _unavailable(exc: Exception, base_url: str) -> BackendUnavailable:
    import openai

    if isinstance(exc, openai.APIConnectionError):
        return BackendUnavailable(f"cannot reach the server at {base_url}: {exc}")
    status = getattr(exc, "status_code", None)
    return BackendUnavailable(f"the server at {base_url} answered {status or 'an error'}: {exc}")
