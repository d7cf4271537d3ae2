"""Which tool-call format a model speaks, read from its chat template: the one dispatch point.

A format is a module (hermes.py, llama3.py) with NAME, START_MARKERS, ARGS_KEY, `parse`,
`render_call` and `forced_lark`. Templates that render tools in a format not listed here are
parsed as Hermes, the most common one; templates that know no tools at all get render.py's
Hermes fallback, so the choice there is exact.
Does not know: tokenizers or models; only the template's text.
"""
from __future__ import annotations

from types import ModuleType

from engine.tools import hermes, llama3


def template_knows_tools(template: str | None) -> bool:
    return bool(template) and "tools" in template


def format_for(template: str | None) -> ModuleType:
    if template_knows_tools(template) and ("<|python_tag|>" in template or "ipython" in template):
        return llama3
    return hermes
