"""How UI handlers report user errors: a Gradio warning with the message, never a traceback.

Why: every handler would otherwise repeat the same try/except. Errors the user can act on
(WorkbenchError, EngineError) become a `gr.Warning` toast with their own message and leave
every output as it was (`gr.skip()`), so the page shows no error overlay and nothing changes.
Nothing else is caught: a real bug still surfaces as one (Gradio hides the traceback).
"""
from __future__ import annotations

import functools
from typing import Callable

import gradio as gr

from engine.errors import EngineError
from workbench.errors import WorkbenchError
from workbench.ui.wording import for_ui


def friendly(title: str, outputs: int) -> Callable:
    """Decorate a handler with `outputs` outputs: user errors warn and change nothing."""
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def handler(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (WorkbenchError, EngineError) as exc:
                gr.Warning(for_ui(str(exc)), duration=None, title=title)
                skips = tuple(gr.skip() for _ in range(outputs))
                return skips if outputs > 1 else skips[0]
        return handler
    return wrap
