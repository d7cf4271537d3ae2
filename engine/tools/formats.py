"""Which tool-call format a model speaks, read from its chat template: the one dispatch point.

A format is a module (hermes.py, llama3.py, deepseek_dsml.py) with NAME, START_MARKERS,
ARGS_KEY, `parse`, `render_call`, FORCED_HEAD/FORCED_TAIL (None where a forced call is not
JSON and so is parsed whole) and `forced_lark` (JSON formats: one `%json` rule per tool) or
`forced_lark_for_tools` (markup formats: built from the tools' schemas). Templates that render tools in a format not listed here are
parsed as Hermes, the most common one; templates that know no tools at all get render.py's
Hermes fallback, so the choice there is exact.
Does not know: tokenizers or models; only the template's text.
"""
from __future__ import annotations

from types import ModuleType

from engine.tools import deepseek_dsml, hermes, llama3


def template_knows_tools(template: str | None) -> bool:
    return bool(template) and "tools" in template


def format_for(template: str | None) -> ModuleType:
    if template_knows_tools(template) and "DSML" in template:
        return deepseek_dsml
    if template_knows_tools(template) and ("<|python_tag|>" in template or "ipython" in template):
        return llama3
    return hermes
