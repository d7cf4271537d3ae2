"""The Synthesize tab's past artifacts as something to act on: the status line names the
artifact a job saved, and clicking a row of the artifact table selects that artifact (its id
goes to the export field and its answer, citations linked, to the output).
Glue only; does not know SQL or prompts.
"""
from __future__ import annotations

import gradio as gr

from workbench.synthesis.citations import Citation
from workbench.ui.answer_view import answer_html


def saved_line(artifact) -> str:
    """"saved as artifact N (title)", for the status line of a finished job."""
    return f"saved as artifact {artifact.id} ({artifact.title})"


def row_id(evt: gr.SelectData) -> int | None:
    """The ID column of the clicked row."""
    row = evt.row_value if isinstance(getattr(evt, "row_value", None), list) else None
    try:
        return int(row[0]) if row else None
    except (TypeError, ValueError):
        return None


def wire(wb, artifacts, art_id, status, output):
    """Row click -> that artifact selected and its answer shown; returns the event (so the tab
    can chain its facts panel)."""
    from workbench.ui.facts_views import model_answer

    def pick(evt: gr.SelectData):
        aid = row_id(evt)
        if aid is None:
            return gr.skip(), gr.skip(), gr.skip()
        art = wb.artifact(aid)
        cites = [Citation.from_record(c) for c in art.citations]
        return (aid, f"artifact {art.id} selected ({art.title}, {art.model})",
                answer_html(*model_answer(art, cites), wb.sections))

    return artifacts.select(pick, None, [art_id, status, output])
