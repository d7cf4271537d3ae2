"""Llama 3.1+ tool calls: the whole answer is `{"name": ..., "parameters": {...}}`, optionally
after `<|python_tag|>`, several calls separated by `;`.

Reference: Meta's llama-models `prompt_format.md` for 3.1 (JSON-based tool calling) and the
template shipped in meta-llama/Llama-3.1-8B-Instruct's tokenizer_config.json.
Does not know streams or HTTP: `parse` reads a finished text.
"""
from __future__ import annotations

import json

NAME = "llama3"
PYTHON_TAG = "<|python_tag|>"
START_MARKERS = (PYTHON_TAG, '{"name"')
ARGS_KEY = "parameters"


def parse(text: str) -> tuple[str, list[tuple[str, dict]]] | None:
    body = text.strip()
    if body.startswith(PYTHON_TAG):
        body = body[len(PYTHON_TAG):].strip()
    if not body.startswith("{"):
        return None
    decoder = json.JSONDecoder()
    calls, at = [], 0
    while at < len(body):
        try:
            item, end = decoder.raw_decode(body, at)
        except ValueError:
            return None
        args = item.get("parameters", item.get("arguments")) if isinstance(item, dict) else None
        if not isinstance(item.get("name"), str) or not isinstance(args, dict):
            return None
        calls.append((item["name"], args))
        at = end
        while at < len(body) and body[at] in " \n\t;":
            at += 1
    return ("", calls) if calls else None


def render_call(name: str, arguments: dict) -> str:
    return json.dumps({"name": name, "parameters": arguments}, ensure_ascii=False)


FORCED_HEAD = r'\{"name": "((?:[^"\\]|\\.)*)", "parameters": '
FORCED_TAIL = "}"


def forced_lark(call_rules: list[str]) -> str:
    rules = "\n".join(f"call_{i}: {rule}" for i, rule in enumerate(call_rules))
    alternatives = " | ".join(f"call_{i}" for i in range(len(call_rules)))
    return f"start: call\ncall: {alternatives}\n{rules}\n"
