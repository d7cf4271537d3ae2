"""The Synthesize tab's progress bar and map-reduce plan, as HTML.

Renders figures computed elsewhere (workbench/synthesis/progress_figures.py: percent, what it
is doing, tokens/s, time left; mapreduce.describe_parts: the parts and their tokens); holds no
arithmetic of its own. An HTML <progress> element is the bar: every browser draws it, and
screen readers announce its value.
"""
from __future__ import annotations

import html


def bar_html(figures: dict | None) -> str:
    """The bar and its line ("part 2 of 5 · reading the prompt 43% · about 40 s left")."""
    if not figures:
        return ""
    percent = int(figures.get("percent", 0))
    text = html.escape(figures.get("text", ""))
    return (f'<div id="lh-syn-progress"><progress id="lh-syn-bar" max="100" '
            f'value="{percent}" aria-label="{text}">{percent}%</progress> '
            f'<span id="lh-syn-progress-text">{text}</span></div>')


def parts_html(lines: list[str]) -> str:
    """A map-reduce plan: its headline, then one item per part."""
    if not lines:
        return ""
    head, *parts = lines
    items = "".join(f"<li>{html.escape(p)}</li>" for p in parts)
    return f'<div id="lh-syn-parts"><p>{html.escape(head)}</p><ol>{items}</ol></div>'
