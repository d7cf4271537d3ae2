"""The Trust tab: run a needle-in-a-haystack check on the project's own documents with the
app's model, watch it cell by cell, cancel it, and read the heat map and every answer.

Handlers are thin: a check is a background job (workbench/trust/jobs.py), so it survives a
closed browser tab; the run handler follows the job row and shows its progress, and the stored
result (workbench/library/trust_store.py via workbench.trust.summary) is what gets drawn.
Does not know SQL, prompts or scoring.
"""
from __future__ import annotations

import io
import threading

import gradio as gr
import pandas as pd

from workbench.context import AppContext
from workbench.errors import WorkbenchError
from workbench.trust.runner import DEFAULT_DEPTHS, DEFAULT_LENGTHS, TrustRequest
from workbench.ui.feedback import friendly
from workbench.ui.wording import for_ui

ANSWER_HEADERS = ["Length", "Depth", "Question", "Expected", "Answer", "Found", "Cited"]


def _answers_frame(cells: list) -> pd.DataFrame:
    rows = []
    for c in cells:
        for a in c.get("answers", []):
            for n in a.get("needles", []):
                rows.append([c["length"], f"{float(c['depth']):g}%", n.get("question", ""),
                             n["expected"], a["answer"].strip(), "yes" if n["found"] else "no",
                             "yes" if n["cited"] else f"no ({n.get('cited_anchor') or 'none'})"])
    return pd.DataFrame(rows, columns=ANSWER_HEADERS)


def _image(run):
    from PIL import Image

    from workbench.trust.heatmap import render_png

    title = (f"{run.model} ({run.backend}): {run.score:.0%} found, "
             f"{run.cited_score:.0%} cited right")
    return Image.open(io.BytesIO(render_png(run.cells, title)))


def _summary(run) -> str:
    usd = run.cost.get("usd", {})
    priced = ", ".join(f"{k} ${v:.4f}" for k, v in list(usd.items())[:2])
    lines = [f"**{run.model}** on {run.backend}, window {run.window:,} tokens · "
             f"**{run.score:.0%}** of planted facts found, **{run.cited_score:.0%}** with the "
             "right anchor",
             f"{len(run.cells)} cells · {run.prompt_tokens:,} prompt + "
             f"{run.completion_tokens:,} answer tokens · {run.seconds:.1f} s"
             + (f" · at API prices: {priced}" if priced else "")]
    lines.extend(f"- {n}" for n in run.notes)
    return "\n\n".join(lines)


def build(ctx: AppContext) -> None:
    wb = ctx.workbench
    state = {"manager": None}
    lock = threading.Lock()

    def manager():
        with lock:
            if state["manager"] is None:
                from workbench.trust.jobs import TrustJobManager

                state["manager"] = TrustJobManager(wb.library, wb.library.jobs,
                                                   lambda model: ctx.backend())
            return state["manager"]

    def latest_run(project: str | None):
        if not project:
            return None
        runs = wb.library.trust.runs(wb.library.get_project(project).id, limit=1)
        return runs[0] if runs else None

    with gr.Tab("Trust", id="trust"):
        gr.Markdown("Plant short made-up facts in your own documents at chosen depths and "
                    "lengths, ask the model for each, and see where it finds them and cites "
                    "the right anchor.")
        with gr.Row(equal_height=True):
            project = gr.Dropdown(label="Project", choices=[], allow_custom_value=True,
                                  scale=3, elem_id="lh-trust-project")
            refresh = gr.Button("Refresh projects", scale=1)
        with gr.Row():
            lengths = gr.Textbox(label="Lengths (tokens, or % of what the model can read)",
                                 value=",".join(DEFAULT_LENGTHS), scale=3)
            depths = gr.Textbox(label="Depths (%)", scale=2,
                                value=",".join(f"{d:g}" for d in DEFAULT_DEPTHS))
            seed = gr.Number(label="Seed", value=0, precision=0, scale=1)
            needles = gr.Number(label="Facts per prompt", value=1, precision=0, minimum=1,
                                maximum=10, scale=1)
        with gr.Row():
            run = gr.Button("Run trust check", variant="primary", elem_id="lh-trust-run")
            cancel = gr.Button("Cancel", variant="stop", elem_id="lh-trust-cancel")
        job_id = gr.State(None)
        status = gr.Markdown(elem_id="lh-trust-status")
        heatmap = gr.Image(label="Heat map", type="pil", interactive=False,
                           elem_id="lh-trust-heatmap")
        answers = gr.Dataframe(value=_answers_frame([]), label="Answers", wrap=True,
                               interactive=False, elem_id="lh-trust-answers")

    def project_choices(selected: str | None):
        names = [p.name for p in wb.projects()]
        return gr.Dropdown(choices=names,
                           value=selected if selected in names else (names[0] if names else None))

    @friendly("Could not show the trust check", 3)
    def show(name: str | None):
        found = latest_run(name)
        if found is None:
            return "No trust check for this project yet.", None, _answers_frame([])
        return _summary(found), _image(found), _answers_frame(found.cells)

    def run_check(name, length_text, depth_text, seed_value, needle_count,
                  progress=gr.Progress()):
        try:
            if not name:
                raise WorkbenchError("Choose a project first.")
            request = TrustRequest(
                project=name, lengths=tuple(t.strip() for t in length_text.split(",")
                                            if t.strip()),
                depths=tuple(float(t.strip().rstrip("%")) for t in depth_text.split(",")
                             if t.strip()),
                seed=int(seed_value or 0), needles=int(needle_count or 1))
            progress(0, desc="Loading the model and building haystacks")
            jobs = manager()
            job = jobs.submit(request)
        except ValueError:
            gr.Warning("Depths are percentages separated by commas, e.g. 0,50,100.")
            return
        except WorkbenchError as exc:
            gr.Warning(for_ui(str(exc)), duration=None, title="Could not start the trust check")
            return
        yield job.id, "Started…", gr.skip(), gr.skip()
        for snap in jobs.follow(job.id):
            if snap.steps_total:
                progress((snap.step, snap.steps_total), desc=snap.message, unit="cells")
            yield job.id, f"{snap.message or snap.status} ({snap.step}/{snap.steps_total})", \
                gr.skip(), gr.skip()
        final = jobs.store.job(job.id)
        stored = jobs.result(job.id)
        if final.status != "done" or stored is None:
            yield None, f"Trust check {final.status}. {final.error or ''}", gr.skip(), gr.skip()
            return
        yield None, _summary(stored), _image(stored), _answers_frame(stored.cells)

    def cancel_check(current: int | None):
        if current is None:
            return "Nothing is running."
        manager().cancel(current)
        return "Cancelling after the current cell…"

    refresh.click(project_choices, project, project)
    project.change(show, project, [status, heatmap, answers])
    run.click(run_check, [project, lengths, depths, seed, needles],
              [job_id, status, heatmap, answers])
    cancel.click(cancel_check, job_id, status)
