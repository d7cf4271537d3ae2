"""Messages and tool definitions in the shape chat templates take, with or without tool support.

Templates that know tools (Qwen2.5/3, Llama 3.1, Hermes, DeepSeek) get transformers' own
convention: `tools=[{"type": "function", "function": {...}}]`, assistant turns with
`tool_calls` (arguments as objects) and `role: "tool"` turns with `tool_call_id` and `name`.

The fallback, for templates that render only role and content (SmolLM2-135M-Instruct's
ignores `tools` and would print a `tool` role verbatim): the definitions go at the end of the
system prompt in Qwen2.5's Hermes wording, assistant calls become `<tool_call>` text, and
consecutive tool results become one user turn of `<tool_response>` blocks, as Qwen2.5's
template lays them out. The model's own template still frames every turn.
A last assistant turn with text is a prefill (Anthropic's "put words in Claude's mouth"):
the prompt ends inside that turn so the model continues it.
Does not know: tokenizers (the caller applies the template) or which calls are forced.
"""
from __future__ import annotations

import json
from types import ModuleType

from engine.events import Message, ToolSpec
from engine.tools import hermes

FALLBACK_TOOLS_PROMPT = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    "{tools}\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{{"name": <function-name>, "arguments": <args-json-object>}}\n</tool_call>')
DEFAULT_SYSTEM = "You are a helpful assistant."


def is_prefill(messages: list[Message]) -> bool:
    """A last assistant turn with text and no calls is a prefill: the model continues it."""
    last = messages[-1] if messages else None
    return last is not None and last.role == "assistant" and bool(last.content) \
        and not last.tool_calls


def tool_dicts(tools: tuple[ToolSpec, ...] | list[ToolSpec]) -> list[dict]:
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.parameters}} for t in tools]


def arguments_of(call) -> dict:
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        return {"_raw": call.arguments}
    return value if isinstance(value, dict) else {"_value": value}


def native_chat(messages: list[Message]) -> list[dict]:
    """For templates with tool support: transformers' message convention."""
    chat = []
    for m in messages:
        turn: dict = {"role": m.role, "content": m.content}
        if m.tool_calls:
            turn["tool_calls"] = [{"id": c.id, "type": "function", "function": {
                "name": c.name, "arguments": arguments_of(c)}} for c in m.tool_calls]
        if m.role == "tool":
            turn["tool_call_id"], turn["name"] = m.tool_call_id, m.name
        chat.append(turn)
    return chat


def fallback_chat(messages: list[Message], tools, fmt: ModuleType = hermes) -> list[dict]:
    """For templates that know only role and content: tools and calls written as text."""
    chat: list[dict] = []
    if tools:
        block = FALLBACK_TOOLS_PROMPT.format(
            tools="\n".join(json.dumps(t, ensure_ascii=False) for t in tool_dicts(tools)))
        if messages and messages[0].role == "system":
            chat.append({"role": "system", "content": f"{messages[0].content}\n\n{block}"})
            messages = messages[1:]
        else:
            chat.append({"role": "system", "content": f"{DEFAULT_SYSTEM}\n\n{block}"})
    for m in messages:
        if m.role == "tool":
            status = " (error)" if m.is_error else ""
            piece = f"<tool_response>{status}\n{m.content}\n</tool_response>"
            if chat and chat[-1].get("_tool_results"):
                chat[-1]["content"] += "\n" + piece
            else:
                chat.append({"role": "user", "content": piece, "_tool_results": True})
            continue
        content = m.content
        if m.tool_calls:
            calls = "\n".join(fmt.render_call(c.name, arguments_of(c)) for c in m.tool_calls)
            content = f"{content}\n{calls}" if content else calls
        chat.append({"role": m.role, "content": content})
    for turn in chat:
        turn.pop("_tool_results", None)
    return chat
