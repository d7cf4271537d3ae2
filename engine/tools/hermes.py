"""The Hermes tool-call format: `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`.

Spoken by NousResearch Hermes 2/3, Qwen2.5 and Qwen3 templates, and taught to SmolLM2
(its 1.7B card puts a JSON list inside one tag: `<tool_call>[{...}, {...}]</tool_call>`, which
is read too). It is also the format of render.py's fallback, so every model without a tool
template of its own is prompted, parsed and constrained in it.
Reference: github.com/NousResearch/Hermes-Function-Calling, Qwen2.5's tokenizer_config.json.
Does not know streams or HTTP: `parse` reads a finished text.
"""
from __future__ import annotations

import json
import re

NAME = "hermes"
OPEN, CLOSE = "<tool_call>", "</tool_call>"
START_MARKERS = (OPEN,)
ARGS_KEY = "arguments"  # the key the forced-call grammar writes
_BLOCK = re.compile(re.escape(OPEN) + r"(.*?)(?:" + re.escape(CLOSE) + r"|\Z)", re.DOTALL)


def parse(text: str) -> tuple[str, list[tuple[str, dict]]] | None:
    """(text outside the calls, [(name, arguments)]); None when a block is not a valid call."""
    calls: list[tuple[str, dict]] = []
    for match in _BLOCK.finditer(text):
        try:
            body = json.loads(match.group(1).strip())
        except ValueError:
            return None
        for item in body if isinstance(body, list) else [body]:
            call = _call(item)
            if call is None:
                return None
            calls.append(call)
    if not calls:
        return None
    return _BLOCK.sub("", text).strip(), calls


def _call(item) -> tuple[str, dict] | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    args = item.get("arguments", item.get("parameters", {}))
    if isinstance(args, str):  # some models double-encode the arguments
        try:
            args = json.loads(args)
        except ValueError:
            return None
    return (item["name"], args) if isinstance(args, dict) else None


def render_call(name: str, arguments: dict) -> str:
    """One call as the model writes it (for history in the fallback template)."""
    body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"{OPEN}\n{body}\n{CLOSE}"


# What a forced call (forced_lark with constrain.py's compact JSON) writes around its arguments.
FORCED_HEAD = re.escape(OPEN + "\n") + r'\{"name": "((?:[^"\\]|\\.)*)", "arguments": '
FORCED_TAIL = "}\n" + CLOSE


def forced_lark(call_rules: list[str]) -> str:
    """A Lark grammar for exactly one call; `call_rules` are `%json {...}` bodies, one per tool."""
    rules = "\n".join(f"call_{i}: {rule}" for i, rule in enumerate(call_rules))
    alternatives = " | ".join(f"call_{i}" for i in range(len(call_rules)))
    return (f'start: "{OPEN}\\n" call "\\n{CLOSE}"\n'
            f"call: {alternatives}\n{rules}\n")
