"""The Library tab: projects, drag-and-drop import (a role per dropped file, then Import; see
import_roles.py), the document table, structure preview, search and delete.

Handlers are thin: each calls the Workbench facade (ctx.workbench) and turns its plain
dataclasses into tables. A bad file shows one error listing each file's problem, and the
import policy (all or nothing, see workbench/workbench.py) means the library is unchanged.
Does not know: formats, SQL or models.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from workbench.context import AppContext
from workbench.errors import ImportRejected, WorkbenchError
from workbench.summaries import clock, stats_summary
from workbench.ui import doc_roles, doc_versions, import_roles, project_memory
from workbench.ui.feedback import friendly
from workbench.ui.wording import for_ui

DOC_HEADERS = ["ID", "Title", "Kind", "Format", "Role", "Version", "Tokens", "Stats"]
# short columns in px, wide enough for their longest word ("screenplay", "reference",
# "Version"), so no word is cut at 800 px; the title and stats share what is left and wrap
DOC_WIDTHS = ["48px", "30%", "104px", "88px", "96px", "84px", "80px", "26%"]
STRUCTURE_HEADERS = ["Anchor", "Heading / speaker", "Time", "Text"]
HIT_HEADERS = ["Document", "Anchor", "Snippet"]
PREVIEW_ROWS = 300
EXCERPT_CHARS = 160
FILE_TYPES_HINT = "Fountain, Final Draft, PDF, SRT, WebVTT, text, Markdown, Word"


def _frame(rows: list[list], headers: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=headers)


def _excerpt(text: str, heading: str | None = None) -> str:
    flat = " ".join((text or "").split())
    if heading and flat.startswith(heading):
        flat = flat[len(heading):].lstrip()
    return flat if len(flat) <= EXCERPT_CHARS else flat[:EXCERPT_CHARS - 1] + "…"


READY_JS = "() => { document.body.dataset.longhandReady = '1'; }"


def build(ctx: AppContext) -> None:
    wb = ctx.workbench

    def project_choices(selected: str | None) -> gr.Dropdown:
        names = [p.name for p in wb.projects()]
        value = selected if selected in names else (names[0] if names else None)
        return gr.Dropdown(choices=names, value=value)

    def document_views(project: str | None) -> tuple[pd.DataFrame, gr.Dropdown]:
        docs = wb.documents(project) if project else []
        rows = [[d.id, d.title, d.kind, d.format, d.role, d.version, d.tokens,
                 stats_summary(d.stats)] for d in docs]
        choices = [(f"{d.title} (v{d.version}, {d.filename})", d.id) for d in docs]
        return _frame(rows, DOC_HEADERS), gr.Dropdown(choices=choices, value=None)

    with gr.Tab("Library", id="library"):
        with gr.Row(equal_height=True):
            # Custom values: the choices change at run time and API callers name projects.
            project = gr.Dropdown(label="Project", choices=[], scale=3, elem_id="lh-project",
                                  allow_custom_value=True)
            new_name = gr.Textbox(label="New project", placeholder="e.g. The Long Night",
                                  scale=3, elem_id="lh-new-project")
            create = gr.Button("Create project", variant="primary", scale=1,
                               elem_id="lh-create")
        files = gr.File(label=f"Drop documents here ({FILE_TYPES_HINT}), then press Import",
                        file_count="multiple", type="filepath", elem_id="lh-files")
        role, start, staged, chosen = import_roles.build()
        status = gr.Markdown(elem_id="lh-status")
        remembered = project_memory.holder()
        table = gr.Dataframe(value=_frame([], DOC_HEADERS), label="Documents",
                             interactive=False, wrap=True, elem_id="lh-documents",
                             column_widths=DOC_WIDTHS)
        with gr.Row(equal_height=True):
            document = gr.Dropdown(label="Document", choices=[], scale=4,
                                   elem_id="lh-document")
            delete = gr.Button("Delete document…", variant="stop", scale=1,
                               elem_id="lh-delete")
        doc_role, set_role = doc_roles.build()
        with gr.Row(visible=False, equal_height=True) as confirm_row:
            confirm_text = gr.Markdown()
            confirm = gr.Button("Yes, delete it", variant="stop", elem_id="lh-confirm")
            cancel = gr.Button("Cancel")
        details = gr.Markdown(elem_id="lh-details")
        version_parts = doc_versions.build()
        structure = gr.Dataframe(value=_frame([], STRUCTURE_HEADERS), label="Structure",
                                 interactive=False, wrap=True, elem_id="lh-structure",
                                 column_widths=["8%", "27%", "15%", "50%"])
        with gr.Row(equal_height=True):
            query = gr.Textbox(label="Search this project", scale=4, elem_id="lh-query",
                               placeholder="words or phrases, e.g. Houston")
            search = gr.Button("Search", scale=1, elem_id="lh-search")
        hits = gr.Dataframe(value=_frame([], HIT_HEADERS), label="Matches",
                            interactive=False, wrap=True, elem_id="lh-hits",
                            column_widths=["25%", "10%", "65%"])

    @friendly("Could not create the project", 2)
    def create_project(name: str):
        created = wb.new_project(name)
        return project_choices(created.name), ""

    @friendly("Could not show the project", 3)
    def show_project(name: str | None):
        frame, choices = document_views(name)
        return frame, choices, _frame([], HIT_HEADERS)

    @friendly("Nothing was imported", 4)
    def import_files(name: str | None, paths: list[str] | None, file_role: str | None,
                     roles: dict | None = None, progress=gr.Progress()):
        """`file_role` is every file's role (draft if none) unless `roles` (file name ->
        role, the per-file table) names another."""
        if not paths:
            return gr.skip(), gr.skip(), gr.skip(), "Drop the files to import first."
        if not name:
            raise WorkbenchError("Create or select a project first, then press Import again.")

        def report(done: int, total: int, filename: str) -> None:
            progress((done, total), desc=f"Reading {filename}" if filename else "Saving",
                     unit="files")

        try:
            names = {Path(p).name for p in paths}
            results = wb.import_files(
                name, paths, role=file_role or "draft", progress=report,
                roles={n: r for n, r in (roles or {}).items() if n in names and r})
        except ImportRejected as exc:
            gr.Warning(for_ui(str(exc)), duration=None, title="Nothing was imported")
            problems = "\n".join(f"- {p}" for p in exc.problems)
            return None, gr.skip(), gr.skip(), f"**Nothing was imported:**\n{problems}"
        lines = [f"- **{r.document.title}**: {_status_text(r)}, {r.document.role}, "
                 f"{stats_summary(r.document.stats)}" for r in results]
        message = f"Imported {len(results)} file{'s' if len(results) != 1 else ''}:\n"
        frame, choices = document_views(name)
        return None, frame, choices, message + "\n".join(lines)

    @friendly("Could not show the document", 3)
    def show_document(document_id: int | None):
        if document_id is None:
            return "", _frame([], STRUCTURE_HEADERS), gr.Row(visible=False)
        d = wb.document(document_id)
        sections = wb.sections(document_id)
        rows = [[s.anchor, s.heading or s.speaker or "",
                 f"{clock(s.start_s)}–{clock(s.end_s)}" if s.start_s is not None else "",
                 _excerpt(s.text, s.heading)] for s in sections[:PREVIEW_ROWS]]
        lines = [f"### {d.title}",
                 f"{d.kind} · {d.format} · role {d.role} · version {d.version} · "
                 f"{d.tokens if d.tokens is not None else '?'} tokens · {d.filename}",
                 "", stats_summary(d.stats)]
        for key in ("characters", "speakers"):
            if d.stats.get(key):
                lines += ["", f"**{key.capitalize()}:** {', '.join(d.stats[key])}"]
        if len(sections) > PREVIEW_ROWS:
            lines += ["", f"Showing the first {PREVIEW_ROWS} of {len(sections)} sections."]
        return "\n".join(lines), _frame(rows, STRUCTURE_HEADERS), gr.Row(visible=False)

    @friendly("Cannot delete", 2)
    def ask_delete(document_id: int | None):
        if document_id is None:
            raise WorkbenchError("Choose a document to delete first.")
        d = wb.document(document_id)
        text = (f"Delete **{d.title}** ({d.filename}) with all {d.version} version(s)? "
                "This cannot be undone.")
        return gr.Row(visible=True), text

    @friendly("Could not delete the document", 4)
    def do_delete(name: str | None, document_id: int | None):
        if document_id is None:
            raise WorkbenchError("Choose a document to delete first.")
        title = wb.document(document_id).title
        wb.delete_document(document_id)
        frame, choices = document_views(name)
        return gr.Row(visible=False), frame, choices, f"Deleted **{title}**."

    @friendly("Search failed", 1)
    def do_search(name: str | None, text: str):
        if not name:
            raise WorkbenchError("Create or select a project first.")
        rows = [[h.document_title, h.anchor, h.snippet] for h in wb.search(name, text)]
        if not rows:
            gr.Info(f"No matches for “{text}”.")
        return _frame(rows, HIT_HEADERS)

    private = {"api_visibility": "private"}
    # Mark the page ready once the project list has arrived, so anything that drives the UI
    # (people's scripts, our browser tests) can wait for it instead of racing the first load.
    # The project chosen before a reload is chosen again (project_memory.py).
    gr.on(triggers=None, fn=project_choices, inputs=[remembered], outputs=[project],
          js=project_memory.READ_JS, **private).then(None, js=READY_JS, **private)
    create.click(create_project, [new_name], [project, new_name], api_name="create_project")
    new_name.submit(create_project, [new_name], [project, new_name], **private)
    shown = project.change(show_project, [project], [table, document, hits],
                           api_name="show_project")
    project_memory.remember(shown)
    import_roles.wire(wb, project, files, role, staged, chosen)
    start.click(import_files, [project, files, role, chosen],
                [files, table, document, status], api_name="import_files").then(
        lambda kept: (gr.skip(), gr.skip()) if kept else ({}, {}), [files], [staged, chosen],
        **private)  # the role table goes with the files it was for
    doc_roles.wire(wb, project, document, doc_role, set_role, table, status, document_views)
    doc_versions.wire(wb, document, *version_parts)
    document.change(show_document, [document], [details, structure, confirm_row],
                    api_name="show_document")
    delete.click(ask_delete, [document], [confirm_row, confirm_text], **private)
    confirm.click(do_delete, [project, document], [confirm_row, table, document, status],
                  api_name="delete_document")
    cancel.click(lambda: gr.Row(visible=False), None, [confirm_row], **private)
    search.click(do_search, [project, query], [hits], api_name="search")
    query.submit(do_search, [project, query], [hits], **private)

def _status_text(result) -> str:
    version = result.document.version
    if result.status == "restored":
        return f"restored v{result.restored_from} as v{version}"
    return {"created": "new", "new_version": f"new version {version}",
            "duplicate": "already there, unchanged"}.get(result.status, result.status)
