"""Tools across the wire to remote servers: the engine's messages, tool specs and tool calls in
OpenAI Chat Completions and Anthropic Messages shapes, and their stream events back.

Why one module beside the two remote backends: both backends need the same translation, and
with it a conversation moves between protocols -- an Anthropic client in front of an
OpenAI-compatible remote, or the reverse -- keeping tool-call ids as they are.
References: platform.openai.com/docs/guides/function-calling,
docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use.
Does not know: HTTP clients or SDK objects beyond reading their attributes.
"""
from __future__ import annotations

import json

from engine.events import GenerationParams, Message, ToolCallDelta

# ---- OpenAI Chat Completions ----------------------------------------------------------------


def openai_messages(messages: list[Message]) -> list[dict]:
    out = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "",
                        "content": m.content})
        elif m.tool_calls:
            out.append({"role": "assistant", "content": m.content or None, "tool_calls": [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}} for c in m.tool_calls]})
        else:
            out.append({"role": m.role, "content": m.content})
    return out


def openai_tool_fields(params: GenerationParams) -> dict:
    fields: dict = {}
    if params.tools:
        fields["tools"] = [{"type": "function", "function": {
            "name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in params.tools]
        choice = params.tool_choice
        fields["tool_choice"] = choice if choice in ("auto", "none", "required") else {
            "type": "function", "function": {"name": choice}}
        if not params.parallel_tool_calls:
            fields["parallel_tool_calls"] = False
    if params.response_format is not None:
        fields["response_format"] = {"type": "json_object"} if not params.response_format \
            else {"type": "json_schema", "json_schema": {"name": "response", "strict": True,
                                                         "schema": params.response_format}}
    return fields


def openai_tool_deltas(delta) -> list[ToolCallDelta]:
    """A streamed `choices[].delta`'s tool-call pieces as engine events."""
    out = []
    for piece in getattr(delta, "tool_calls", None) or []:
        function = piece.function
        out.append(ToolCallDelta(piece.index, (function.arguments or "") if function else "",
                                 id=piece.id, name=function.name if function else None))
    return out


# ---- Anthropic Messages ---------------------------------------------------------------------


def anthropic_split(messages: list[Message]) -> tuple[str | None, list[dict]]:
    """(system text, turns): tool results join the user turn that follows them."""
    system = "\n\n".join(m.content for m in messages if m.role == "system") or None
    chat: list[dict] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "assistant":
            blocks = [{"type": "text", "text": m.content}] if m.content else []
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name,
                        "input": _object(c.arguments)} for c in m.tool_calls]
            chat.append({"role": "assistant", "content": blocks if m.tool_calls else m.content})
            continue
        block = ({"type": "tool_result", "tool_use_id": m.tool_call_id or "",
                  "content": m.content, "is_error": m.is_error} if m.role == "tool"
                 else {"type": "text", "text": m.content})
        if chat and chat[-1]["role"] == "user" and isinstance(chat[-1]["content"], list):
            chat[-1]["content"].append(block)
        elif m.role == "tool":
            chat.append({"role": "user", "content": [block]})
        else:
            chat.append({"role": "user", "content": m.content})
    return system, chat


def anthropic_tool_fields(params: GenerationParams) -> dict:
    fields: dict = {}
    if params.tools:
        fields["tools"] = [{"name": t.name, "description": t.description,
                            "input_schema": t.parameters} for t in params.tools]
        choice = {"auto": {"type": "auto"}, "none": {"type": "none"},
                  "required": {"type": "any"}}.get(params.tool_choice,
                                                   {"type": "tool", "name": params.tool_choice})
        if not params.parallel_tool_calls and choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
        fields["tool_choice"] = choice
    return fields


class AnthropicToolEvents:
    """Numbers the `tool_use` blocks of one stream and turns their events into ToolCallDeltas."""

    def __init__(self) -> None:
        self.calls = 0

    def start(self, block) -> ToolCallDelta | None:
        if getattr(block, "type", None) != "tool_use":
            return None
        self.calls += 1
        return ToolCallDelta(self.calls - 1, "", id=block.id, name=block.name)

    def delta(self, delta) -> ToolCallDelta | None:
        if getattr(delta, "type", None) != "input_json_delta" or not self.calls:
            return None
        return ToolCallDelta(self.calls - 1, delta.partial_json or "")


def _object(arguments: str) -> dict:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
