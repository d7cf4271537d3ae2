"""The Library tab's role per dropped file: after a drop, each file is listed with a role
chosen from its kind (a transcript or a PDF paper: reference; Markdown: notes; a screenplay or
anything else: draft), which the writer can change file by file, or for every file at once,
before pressing Import; a new version of a known document starts with that document's role.
Nothing is stored until then; Workbench.import_files gets the roles.

Why by the file's name: the kind is only known for sure once a file is parsed, and parsing
every file twice (at the drop and at the import) would double the wait on a large PDF; a
misnamed file only gets another default, which the writer sees and can change.
Glue only. Does not know SQL or formats beyond the importers' suffix lists.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from workbench.errors import WorkbenchError
from workbench.importers import pdf, subtitles
from workbench.importers.base import ROLES

NOTES_SUFFIXES = (".md", ".markdown")


def default_role(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix in subtitles.SUFFIXES or suffix in pdf.SUFFIXES:
        return "reference"
    return "notes" if suffix in NOTES_SUFFIXES else "draft"


def staged_roles(paths: list[str] | None, known: dict[str, str] | None = None
                 ) -> dict[str, str]:
    """File name -> its default role, for the files just dropped: a new version keeps its
    document's role (`known`: filename -> role in the project), a new file gets its kind's."""
    known = known or {}
    return {Path(p).name: known.get(Path(p).name) or default_role(Path(p).name)
            for p in paths or []}


def build() -> tuple[gr.Radio, gr.Button, gr.State, gr.State]:
    """The 'every file' role, the Import button, and the staged and chosen roles (file name
    -> role); the rows of the table are rendered from `staged`."""
    with gr.Row(equal_height=True):
        every = gr.Radio(list(ROLES), value=None, label="Set every dropped file to", scale=3,
                         elem_id="lh-import-role")
        start = gr.Button("Import", variant="primary", scale=1, elem_id="lh-import")
    staged, chosen = gr.State({}), gr.State({})

    @gr.render(inputs=[staged], triggers=[staged.change])
    def rows(roles: dict[str, str]):
        if roles:
            gr.Markdown("**Role of each file** (change any, then press Import)")
        for i, (name, role) in enumerate((roles or {}).items()):
            pick = gr.Dropdown(list(ROLES), value=role, label=name, key=f"role-{name}",
                               interactive=True,
                               elem_id=f"lh-file-role-{i}", elem_classes="lh-file-role")
            pick.change(lambda value, current, n=name: {**(current or {}), n: value},
                        [pick, chosen], [chosen], api_visibility="private")

    return every, start, staged, chosen


def wire(wb, project, files, every, staged, chosen) -> None:
    private = {"api_visibility": "private"}

    def stage(name, paths):
        try:
            known = {d.filename: d.role for d in wb.documents(name)} if name else {}
        except WorkbenchError:  # an unknown project: the import will say so
            known = {}
        roles = staged_roles(paths, known)
        return roles, roles, gr.Radio(value=None)

    def set_every(role, current):
        roles = {name: role for name in (current or {})} if role else current
        return roles, roles

    files.upload(stage, [project, files], [staged, chosen, every], **private)
    files.clear(lambda: ({}, {}), None, [staged, chosen], **private)
    every.input(set_every, [every, chosen], [staged, chosen], **private)
