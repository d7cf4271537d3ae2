"""DeepSeek's DSML tool-call format (V3.2 and V4): calls as markup, one tag per parameter.

    <｜DSML｜function_calls>
    <｜DSML｜invoke name="get_weather">
    <｜DSML｜parameter name="city" string="true">Paris</｜DSML｜parameter>
    <｜DSML｜parameter name="days" string="false">3</｜DSML｜parameter>
    </｜DSML｜invoke>
    </｜DSML｜function_calls>

`string="true"` holds the raw text of a string argument; `string="false"` holds a JSON value
(numbers, booleans, objects, lists). The bars are U+FF5C, as in DeepSeek's other special
tokens; text written with ASCII `|` (seen when a model drifts) is read too. Several invokes
in one block are parallel calls.
Reference: DeepSeek-V3.2's `encoding_dsv32.py` (the release's prompt encoder) and its
function-calling guide; vLLM's and SGLang's `deepseekv32` tool parsers read the same markup.
A forced call writes every argument as `string="false"` JSON, so the grammar can hold each
value to its schema with llguidance's `%json`, parameters in the schema's order.
Does not know streams or HTTP: `parse` reads a finished text.
"""
from __future__ import annotations

import json
import re

NAME = "deepseek-dsml"
BAR = "\uff5c"
OPEN = f"<{BAR}DSML{BAR}function_calls>"
CLOSE = f"</{BAR}DSML{BAR}function_calls>"
START_MARKERS = (OPEN, "<|DSML|function_calls>")
ARGS_KEY = "arguments"
_B = r"[\uff5c|]"
_BLOCK = re.compile(rf"<{_B}DSML{_B}function_calls>(.*?)(?:</{_B}DSML{_B}function_calls>|\Z)",
                    re.DOTALL)
_INVOKE = re.compile(rf'<{_B}DSML{_B}invoke name="([^"]+)">(.*?)</{_B}DSML{_B}invoke>',
                     re.DOTALL)
_PARAM = re.compile(rf'<{_B}DSML{_B}parameter name="([^"]+)"(?: string="(true|false)")?>'
                    rf"(.*?)</{_B}DSML{_B}parameter>", re.DOTALL)


def parse(text: str) -> tuple[str, list[tuple[str, dict]]] | None:
    """(text outside the calls, [(name, arguments)]); None when a block holds no valid call."""
    calls: list[tuple[str, dict]] = []
    for block in _BLOCK.finditer(text):
        invokes = list(_INVOKE.finditer(block.group(1)))
        if not invokes:
            return None
        for invoke in invokes:
            arguments = {}
            for name, is_string, value in _PARAM.findall(invoke.group(2)):
                if is_string == "false":
                    try:
                        arguments[name] = json.loads(value)
                    except ValueError:
                        return None
                else:
                    arguments[name] = value
            calls.append((invoke.group(1), arguments))
    if not calls:
        return None
    return _BLOCK.sub("", text).strip(), calls


def render_call(name: str, arguments: dict) -> str:
    """One call as the model writes it (strings raw, everything else as JSON)."""
    lines = [OPEN, f'<{BAR}DSML{BAR}invoke name="{name}">']
    for key, value in arguments.items():
        if isinstance(value, str):
            lines.append(f'<{BAR}DSML{BAR}parameter name="{key}" string="true">{value}'
                         f"</{BAR}DSML{BAR}parameter>")
        else:
            lines.append(f'<{BAR}DSML{BAR}parameter name="{key}" string="false">'
                         f"{json.dumps(value, ensure_ascii=False)}</{BAR}DSML{BAR}parameter>")
    lines += [f"</{BAR}DSML{BAR}invoke>", CLOSE]
    return "\n".join(lines)


# A forced call is not JSON between a head and a tail, so it is not streamed piece by piece:
# the local backend parses it when it is complete (FORCED_HEAD None says so).
FORCED_HEAD = None
FORCED_TAIL = None


def _lark_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def forced_lark_for_tools(tools: list) -> str:
    """A Lark grammar for exactly one call; one alternative per tool, from its schema."""
    lines, alternatives = [], []
    for i, tool in enumerate(tools):
        schema = tool.parameters or {}
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        parts = []
        for j, (key, sub) in enumerate(props.items()):
            rule = f"p_{i}_{j}"
            head = _lark_string(f'<{BAR}DSML{BAR}parameter name="{key}" string="false">')
            tail = _lark_string(f"</{BAR}DSML{BAR}parameter>\n")
            options = {"whitespace_flexible": False, "item_separator": ", ",
                       "key_separator": ": "}
            lines.append(f"{rule}: {head} %json {json.dumps({**sub, 'x-guidance': options})}"
                         f" {tail}")
            parts.append(rule if key in required else f"{rule}?")
        invoke = _lark_string(f'<{BAR}DSML{BAR}invoke name="{tool.name}">\n')
        end = _lark_string(f"</{BAR}DSML{BAR}invoke>\n")
        lines.append(f"call_{i}: {invoke} {' '.join(parts)} {end}")
        alternatives.append(f"call_{i}")
    return (f"start: {_lark_string(OPEN + chr(10))} call {_lark_string(CLOSE)}\n"
            f"call: {' | '.join(alternatives)}\n" + "\n".join(lines) + "\n")
