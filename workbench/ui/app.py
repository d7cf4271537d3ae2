"""build_ui(ctx) -> gr.Blocks: the Gradio app, one tab per module (workbench/ui/tab_*.py).

Tabs are built by `build(ctx)` functions that only lay out components and wire handlers to the
Workbench facade; no business logic or database access happens in the UI.
Does not know: how the app is served (app.py mounts these Blocks on FastAPI).
"""
from __future__ import annotations

import gradio as gr

from workbench.context import AppContext
from workbench.ui import tab_engine, tab_library, tab_lora, tab_synthesize, tab_trust

TABS = (tab_library, tab_synthesize, tab_lora, tab_trust, tab_engine)


def build_ui(ctx: AppContext) -> gr.Blocks:
    # Uploaded files are copied into Gradio's cache; clear them after an hour.
    with gr.Blocks(title="Longhand", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# Longhand\nYour project's screenplays, drafts, notes, transcripts and "
                    "papers in one library.")
        with gr.Tabs():
            for tab in TABS:
                tab.build(ctx)
    return demo
