"""The Library tab's version history: the chosen document's versions (when each was imported,
its size and tokens, which older version a restored one brings back), any version opened to read its sections, and two versions compared
scene by scene (unchanged, changed with its lines, added, cut).
Glue only: history and diff come from the Workbench facade. Does not know SQL.
"""
from __future__ import annotations

import gradio as gr
import pandas as pd

from workbench.ui.feedback import friendly

HISTORY_HEADERS = ["Version", "Imported", "Tokens", "Bytes", "SHA-256", "Restores"]
DIFF_HEADERS = ["Before", "After", "Scene", "Change", "Lines changed"]
OPEN_HEADERS = ["Anchor", "Heading / speaker", "Text"]
EXCERPT = 200


def build():
    with gr.Accordion("Versions of this document", open=False, elem_id="lh-versions-box"):
        history = gr.Dataframe(pd.DataFrame([], columns=HISTORY_HEADERS), label="History",
                               interactive=False, wrap=True, elem_id="lh-versions")
        with gr.Row(equal_height=True):
            older = gr.Dropdown(label="Version", choices=[], elem_id="lh-version-a")
            newer = gr.Dropdown(label="Compare with", choices=[], elem_id="lh-version-b")
            show = gr.Button("Open version", elem_id="lh-version-open")
            compare = gr.Button("Compare by scene", elem_id="lh-version-compare")
        shown = gr.Dataframe(pd.DataFrame([], columns=OPEN_HEADERS), label="Version text",
                             interactive=False, wrap=True, elem_id="lh-version-text")
        diff = gr.Dataframe(pd.DataFrame([], columns=DIFF_HEADERS), label="Changes by scene",
                            interactive=False, wrap=True, elem_id="lh-version-diff")
    return history, older, newer, show, compare, shown, diff


def wire(wb, document, history, older, newer, show, compare, shown, diff) -> None:
    def load(document_id):
        if not document_id:
            empty = gr.Dropdown(choices=[], value=None)
            return pd.DataFrame([], columns=HISTORY_HEADERS), empty, empty
        versions = wb.versions(int(document_id))
        rows = [[v.version, f"{v.imported_at:%Y-%m-%d %H:%M}", v.tokens, v.size_bytes,
                 v.sha256[:12], f"v{v.restored_from}" if v.restored_from else ""]
                for v in versions]
        numbers = [v.version for v in versions]
        return (pd.DataFrame(rows, columns=HISTORY_HEADERS),
                gr.Dropdown(choices=numbers, value=numbers[-2] if len(numbers) > 1 else
                            numbers[-1]),
                gr.Dropdown(choices=numbers, value=numbers[-1]))

    @friendly("Could not open the version", 1)
    def open_version(document_id, version):
        if not document_id or not version:
            return pd.DataFrame([], columns=OPEN_HEADERS)
        rows = [[s.anchor, s.heading or s.speaker or "", " ".join((s.text or "").split())[
            :EXCERPT]] for s in wb.sections(int(document_id), int(version))]
        return pd.DataFrame(rows, columns=OPEN_HEADERS)

    @friendly("Could not compare the versions", 1)
    def compare_versions(document_id, a, b):
        if not document_id or not a or not b:
            return pd.DataFrame([], columns=DIFF_HEADERS)
        rows = [[c.old_anchor, c.new_anchor, c.heading, c.change, c.lines]
                for c in wb.version_diff(int(document_id), int(a), int(b))]
        return pd.DataFrame(rows, columns=DIFF_HEADERS)

    document.change(load, [document], [history, older, newer])
    show.click(open_version, [document, older], [shown])
    compare.click(compare_versions, [document, older, newer], [diff])
