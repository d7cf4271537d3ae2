"""The Library tab's role editor: a document's role (draft, notes, reference, style) is chosen
at import for the files dropped together, and can be changed afterwards, one document at a
time, without importing it again (LoRA style training and the templates read roles).
Glue only: the change is Workbench.set_role's. Does not know SQL.
"""
from __future__ import annotations

import gradio as gr

from workbench.importers.base import ROLES
from workbench.ui.feedback import friendly


def build() -> tuple[gr.Dropdown, gr.Button]:
    with gr.Row(equal_height=True):
        role = gr.Dropdown(list(ROLES), value=None, label="Role of this document", scale=3,
                           elem_id="lh-doc-role")
        save = gr.Button("Set role", scale=1, elem_id="lh-doc-role-save")
    return role, save


def wire(wb, project, document, role, save, table, status, document_views) -> None:
    """`document_views(project)` gives the refreshed (table, document dropdown)."""
    def current(document_id):
        return gr.Dropdown(value=wb.document(int(document_id)).role if document_id else None)

    @friendly("Could not change the role", 2)
    def change(name, document_id, new_role):
        if not document_id:
            return gr.skip(), "Choose a document first."
        doc = wb.set_role(int(document_id), new_role or "")
        frame, _ = document_views(name)
        return frame, f"{doc.title} is now a {doc.role} document."

    document.change(current, [document], [role])
    save.click(change, [project, document, role], [table, status])
