"""The project a writer is working on, kept across tabs and reloads: the browser remembers
the last project chosen in the Library (localStorage, this browser only, nothing sent
anywhere), the Library reopens it after a reload, and the Synthesize tab shows it when opened.
Glue only (a few lines of page script); does not know the library or the jobs.
"""
from __future__ import annotations

import gradio as gr

KEY = "longhand-project"
# stores the name the Library's dropdown shows
SAVE_JS = ("() => { const i = document.querySelector('#lh-project input');"
           f" try {{ if (i && i.value) localStorage.setItem('{KEY}', i.value); }}"
           " catch (e) {} }")
# returns the inputs the Python function gets: the remembered project, else the current one
READ_JS = f"(p) => {{ let s = null; try {{ s = localStorage.getItem('{KEY}'); }} catch (e) {{}}" \
          " return [s || p || null]; }"


def holder() -> gr.Textbox:
    """A hidden box the page script fills with the remembered name at load: the input of the
    Library's first load (a load event with a real input would rerun on each change of it)."""
    return gr.Textbox(visible=False, elem_id="lh-remembered-project")


def remember(shown) -> None:
    """Store each project the writer picks in the Library (#lh-project), once `shown` (the
    event that shows the project) is done."""
    shown.then(None, None, None, js=SAVE_JS, api_visibility="private")


def follow(tab, project: gr.Dropdown, choices) -> None:
    """When `tab` opens, show the remembered project in its `project` dropdown;
    `choices(selected)` gives the refreshed dropdown."""
    tab.select(choices, [project], [project], js=READ_JS, api_visibility="private")
