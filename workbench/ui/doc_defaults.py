"""The Synthesize tab's document ticks per template: each template starts with the documents
it is for (workbench/synthesis/doc_defaults.py decides which), and what the writer ticks under
one template is remembered for that template and project only, so ticks do not leak into
another template. Glue between Gradio events and the pure rule; holds no rule of its own.
Does not know SQL or prompts.
"""
from __future__ import annotations

import gradio as gr

from workbench.synthesis.doc_defaults import default_documents


def _key(project, task) -> str:
    return f"{project}\x00{task}"


def doc_choices(wb, project, task, ticked: dict | None = None) -> gr.CheckboxGroup:
    """The project's documents with token counts, ticked as the writer left them under this
    template, else as the template's default."""
    if not project:
        return gr.CheckboxGroup(choices=[], value=[])
    docs = wb.documents(project)
    choices = [(f"{d.title} · {d.kind} · v{d.version} · {d.tokens or 0:,} tokens", d.id)
               for d in docs]
    ids = {d.id for d in docs}
    kept = (ticked or {}).get(_key(project, task))
    value = [i for i in kept if i in ids] if kept is not None else default_documents(
        task or "free", docs)
    return gr.CheckboxGroup(choices=choices, value=value)


def wire(wb, project, task, docs) -> None:
    """Remember the writer's ticks per (project, template); a template change shows that
    template's ticks."""
    ticked = gr.State({})

    def remember(p, t, value, memory):
        return {**(memory or {}), _key(p, t): [int(v) for v in value or []]}

    docs.input(remember, [project, task, docs, ticked], ticked)
    task.change(lambda p, t, m: doc_choices(wb, p, t, m), [project, task, ticked], docs)
