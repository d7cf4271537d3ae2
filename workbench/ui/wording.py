"""Error and hint texts said the UI's way: the shared messages of workbench/ are written for
every surface and name command-line flags where a flag is the fix; in the app the fix is a
control on the page, so each known flag hint is replaced by the control that does the same.
A message with no known hint is shown as it is. Does not know Gradio or the handlers.
"""
from __future__ import annotations

import re

# (pattern, what the app says instead); longer, more specific hints first
HINTS: tuple[tuple[str, str], ...] = (
    (r"\(--map-reduce on the command line\)",
     '(tick "Map-reduce if it does not fit" beside Run)'),
    (r"\(--prompt\)", "(type it in the Question box)"),
    (r"\(python -m workbench add-model NAME --url URL adds one\)",
     '(choose "Remote server" above to add one)'),
    (r"with --role style", 'with the role "style" in the Library tab'),
    (r"choose documents with --docs", "tick the documents to train on"),
    (r"without --force", "without confirming the overwrite"),
)
FLAG_RE = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def for_ui(message: str) -> str:
    """`message` with its command-line hints replaced by the app's controls."""
    for pattern, instead in HINTS:
        message = re.sub(pattern, instead, message)
    return message


def flags_in(message: str) -> list[str]:
    """The command-line flags a message still names (none, for a message fit for the UI)."""
    return FLAG_RE.findall(message)
