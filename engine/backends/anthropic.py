"""Backend for any server speaking the Anthropic Messages API, through the official `anthropic`
SDK.

Why: Anthropic's API, DeepSeek's Anthropic-compatible endpoint and Longhand's own HTTP API speak
it. Stream events map to ours: `text_delta` -> TextDelta, `thinking_delta` -> ThinkingDelta,
`message_start`/`message_delta` usage -> Usage, `stop_reason` -> Done. Token counts come from the
server's /v1/messages/count_tokens. Thinking asks for a budget of its own on top of
`max_new_tokens` (the API requires at least 1,024 thinking tokens and max_tokens above it).
Tools, `tool_use` and `tool_result` blocks travel through remote_tools.py; streamed tool_use
blocks come back as ToolCallDelta events.

Does not know: tokenization beyond what the server counts, or model names.
"""
from __future__ import annotations

import threading
from typing import Iterator

from engine.backends import remote_tools
from engine.events import (Done, Event, GenerationParams, Message, TextDelta,
                                  ThinkingDelta, Usage)
from engine.backends.server_info import (check_remote_args, choose_window,
                                         window_from_entry)
from engine.errors import BackendUnavailable, EngineError

FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
          "model_context_window_exceeded": "length", "tool_use": "tool_calls"}
MIN_THINKING_BUDGET = 1024


class AnthropicBackend:
    name = "anthropic"
    supports_tools = True

    def __init__(self, model: str, base_url: str, api_key: str | None = None, *,
                 context_window: int | None = None, force_thinking: bool | None = None,
                 counter=None, timeout: float = 600.0, probe: bool = True,
                 name: str | None = None):
        import anthropic

        self.base_url = check_remote_args(model, base_url, context_window)
        self.remote_model = model  # the id the server knows
        self.model = name or model  # the name the user chose (add-model NAME)
        self.force_thinking = force_thinking
        self.counter = counter
        self._configured_window = context_window
        # The SDK appends /v1/messages itself: a base_url ending in /v1 would double it.
        root = self.base_url[:-3] if self.base_url.endswith("/v1") else self.base_url
        self.client = anthropic.Anthropic(base_url=root, api_key=api_key or "not-needed",
                                          timeout=timeout, max_retries=0)
        # The window decides every budget, so it is known before the backend exists: asked of
        # the server (probe=False trusts the configured value and sends nothing).
        server = self._server_window() if probe else None
        self.context_window = choose_window(server, context_window, model, self.base_url)

    def _server_window(self) -> int | None:
        import anthropic

        try:
            info = self.client.models.retrieve(self.remote_model)
        except anthropic.NotFoundError:
            return None
        except anthropic.APIError as exc:
            raise _unavailable(exc, self.base_url) from exc
        return window_from_entry(info.model_dump())

    @staticmethod
    def _split(messages: list[Message]) -> tuple[str | None, list[dict]]:
        system, chat = remote_tools.anthropic_split(messages)
        if not chat:
            raise EngineError("the Messages API needs at least one user message")
        return system, chat

    count_estimate = None  # the server counts; budgets are exact

    def count_tokens(self, messages: list[Message], tools=()) -> int:
        import anthropic

        system, chat = self._split(messages)
        extra = {"system": system} if system else {}
        extra.update(remote_tools.anthropic_tool_fields(GenerationParams(tools=tuple(tools))))
        extra.pop("tool_choice", None)
        try:
            return self.client.messages.count_tokens(model=self.remote_model, messages=chat,
                                                     **extra).input_tokens
        except anthropic.NotFoundError as exc:
            if self.counter is not None:
                return self.counter.count_messages(messages)
            raise EngineError(f"{self.base_url} has no /v1/messages/count_tokens; configure a "
                              "local tokenizer for this model to budget its prompts") from exc
        except anthropic.APIError as exc:
            raise _unavailable(exc, self.base_url) from exc

    def _request(self, messages: list[Message], params: GenerationParams) -> dict:
        system, chat = self._split(messages)
        thinking = params.thinking if self.force_thinking is None else self.force_thinking
        request: dict = {"model": self.remote_model, "messages": chat,
                         "max_tokens": params.max_new_tokens, "stream": True}
        if system:
            request["system"] = system
        if params.stop:
            request["stop_sequences"] = list(params.stop)
        request.update(remote_tools.anthropic_tool_fields(params))
        if thinking:
            budget = max(MIN_THINKING_BUDGET, params.max_new_tokens)
            request["thinking"] = {"type": "enabled", "budget_tokens": budget}
            request["max_tokens"] = params.max_new_tokens + budget
        else:
            # This SDK no longer types sampling parameters; compatible servers still read them.
            sampling = {"temperature": min(max(params.temperature, 0.0), 1.0)}
            if params.top_p < 1.0:
                sampling["top_p"] = params.top_p
            request["extra_body"] = sampling
        return request

    def stream(self, messages: list[Message], params: GenerationParams,
               cancel: threading.Event | None = None) -> Iterator[Event]:
        import anthropic

        try:
            response = self.client.messages.create(**self._request(messages, params))
        except anthropic.APIError as exc:
            raise _unavailable(exc, self.base_url) from exc
        from engine.loop_guard import filter_events, guard_for

        prompt_tokens = completion_tokens = 0
        finish = "stop"
        calls = remote_tools.AnthropicToolEvents()
        guard = guard_for(params)  # applied here: the Messages API has no such knob
        try:
            for event in response:
                if cancel is not None and cancel.is_set():
                    finish = "cancelled"
                    break
                if event.type == "message_start":
                    prompt_tokens = event.message.usage.input_tokens or 0
                elif event.type == "content_block_start" and \
                        (call := calls.start(event.content_block)) is not None:
                    yield call
                elif event.type == "content_block_delta" and \
                        (call := calls.delta(event.delta)) is not None:
                    yield call
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta" and event.delta.text:
                        yield from filter_events(guard, [TextDelta(event.delta.text)])
                        if guard is not None and guard.tripped:
                            break
                    elif event.delta.type == "thinking_delta" and event.delta.thinking:
                        yield ThinkingDelta(event.delta.thinking)
                elif event.type == "message_delta":
                    completion_tokens = event.usage.output_tokens or completion_tokens
                    if event.delta.stop_reason:
                        finish = FINISH.get(event.delta.stop_reason, "stop")
        except anthropic.APIError as exc:
            yield Usage(prompt_tokens, completion_tokens)
            yield Done("error", error=str(_unavailable(exc, self.base_url)))
            return
        finally:
            response.close()
        tripped = guard.tripped if guard is not None else None
        if guard is not None and not tripped:
            yield from filter_events(guard, [], final=True)
        yield Usage(prompt_tokens, completion_tokens)
        yield Done(finish, guard=tripped)


def _unavailable(exc: Exception, base_url: str) -> BackendUnavailable:
    import anthropic

    if isinstance(exc, anthropic.APIConnectionError):
        return BackendUnavailable(f"cannot reach the server at {base_url}: {exc}")
    status = getattr(exc, "status_code", None)
    return BackendUnavailable(f"the server at {base_url} answered {status or 'an error'}: {exc}")
