"""The computed facts in the UI: the summary and every table as HTML, the character-dialogue
bar chart and the pacing timeline as Gradio plots. Used by the Synthesize tab (after a run,
or for a chosen artifact) and the Compare tab (once above the columns: the facts do not
depend on the model).

Plain functions from a Facts to component values (tested without a browser), and `panel()`
to place the components. Does not know SQL or how the facts are computed.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, replace

import gradio as gr
import pandas as pd

from workbench.synthesis.facts import Facts, facts_span


def facts_html(facts: Facts | None) -> str:
    if facts is None:
        return ""
    out = ['<div id="lh-facts"><h3>Facts (computed by Longhand, not by the model)</h3><ul>']
    out += [f"<li>{html.escape(line)}</li>" for line in facts.summary]
    out.append("</ul>")
    for t in facts.tables:
        out.append(f'<details open class="lh-facts-table" data-name="{html.escape(t.name)}">'
                   f"<summary>{html.escape(t.title)} ({len(t.rows)})</summary>")
        if t.rows:
            head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r)
                           + "</tr>" for r in t.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        else:
            out.append("<p>(none)</p>")
        out.append("</details>")
    return "".join(out) + "</div>"


def model_answer(art, citations) -> tuple[str, list]:
    """The saved text without the computed facts (the panel shows those as tables): the
    model's answer, after a map-reduce note if there is one, with its citations moved along."""
    start, end = facts_span(art.extra.get("facts"))
    cut = end - start
    moved = [c if c.start < start else replace(c, start=c.start - cut, end=c.end - cut)
             for c in citations if not start <= c.start < end]
    return art.text[:start] + art.text[end:], moved


def chart_frame(facts: Facts | None, name: str) -> pd.DataFrame | None:
    chart = facts.chart(name) if facts is not None else None
    if chart is None or not chart.rows:
        return None
    return pd.DataFrame(chart.rows)


@dataclass
class FactsPanel:
    html: gr.HTML
    bar: gr.BarPlot
    line: gr.LinePlot

    @property
    def outputs(self) -> list:
        return [self.html, self.bar, self.line]


def panel(prefix: str) -> FactsPanel:
    """The facts components, hidden until there are facts; ids start with `prefix`."""
    return FactsPanel(
        gr.HTML(elem_id=f"{prefix}-facts"),
        gr.BarPlot(x="character", y="dialogue blocks", sort="-y", visible=False,
                   label="Dialogue blocks per character", elem_id=f"{prefix}-facts-bar"),
        gr.LinePlot(x="minute", y="wpm", color="speaker", visible=False,
                    label="Words per minute over time", elem_id=f"{prefix}-facts-line"))


def values(facts: Facts | None) -> tuple:
    """What `FactsPanel.outputs` show for `facts` (None: empty and hidden)."""
    bar = chart_frame(facts, "character_dialogue")
    line = chart_frame(facts, "pacing_timeline")
    return (facts_html(facts),
            gr.BarPlot(value=bar, visible=bar is not None),
            gr.LinePlot(value=line, visible=line is not None))


def of_artifact(wb, artifact_id) -> tuple:
    if artifact_id is None:
        return values(None)
    return values(Facts.from_json(wb.artifact(int(artifact_id)).extra.get("facts")))


def of_job(wb, job_id) -> tuple:
    if job_id is None:
        return values(None)
    job = wb.job_status(int(job_id))
    return of_artifact(wb, job.artifact_id) if job.artifact_id else values(None)
