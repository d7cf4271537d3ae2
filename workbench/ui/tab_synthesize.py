"""The Synthesize tab: pick documents (with token counts), a template and a model, see the
budget as a bar of the model's window -- beside it the latest trust-check score of that model
for the project, and a warning when the job is as long as a region where the check found too
little -- optionally pick one of the project's finished LoRA adapters (`base+adapter`, run on
a copy of the base with it attached), run the job in the background with its text streaming
in, read the citations (each verified one links to its source passage) and the computed facts
(tables and charts, workbench/ui/facts_views.py), browse past artifacts.

The job runs in a JobManager thread with its state in the library: closing the browser does
not stop it, and there is no request to time out; this tab only polls the job row. With "Run
on a worker" it is queued for `python -m workbench worker` processes instead (the studio's
other machines) and followed the same way; the jobs table lists both (ui/job_rows.py).
Does not know: SQL, prompts or models (ctx.workbench and ctx.backend do).
"""
from __future__ import annotations

import html
import threading

import gradio as gr

from workbench.context import AppContext
from workbench.engine_control import model_names
from workbench.synthesis.mapreduce import describe_parts
from workbench.synthesis.templates import TEMPLATES
from workbench.ui import (artifact_rows, doc_defaults, facts_views, job_rows,
                          project_memory)
from workbench.ui.answer_view import answer_html
from workbench.ui.feedback import friendly
from workbench.ui.synthesis_progress import bar_html, parts_html
from workbench.ui.wording import for_ui

COLORS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#9d755d")
POLL_S = 0.5
NO_ADAPTER = ("none", "")  # the base model alone


def budget_html(budget) -> str:
    """A horizontal bar of the window: one segment per source, instructions, the answer."""
    parts = [(s.label, s.tokens) for s in budget.sources]
    parts += [("instructions", budget.overhead_tokens), ("answer", budget.reserved_output)]
    scale = max(budget.window, budget.needed)
    segs, legend = [], []
    for i, (label, tokens) in enumerate(parts):
        color = "#bbbbbb" if label == "answer" else COLORS[i % len(COLORS)]
        width = 100.0 * tokens / scale
        segs.append(f'<div title="{html.escape(label)}: {tokens:,}" style="width:{width:.2f}%;'
                    f'background:{color};height:22px"></div>')
        legend.append(f'<span style="color:{color}">■</span> {html.escape(label)} '
                      f'{tokens:,}')
    mark = 100.0 * budget.window / scale
    verdict = ("fits whole" if budget.fits else
               f"<b>does not fit</b>: {budget.needed - budget.window:,} tokens over; choose "
               "fewer documents or map-reduce")
    return (f'<div id="lh-budget"><div style="position:relative;display:flex;border:1px solid '
            f'#888;width:100%">{"".join(segs)}<div style="position:absolute;left:{mark:.2f}%;'
            f'top:-4px;bottom:-4px;border-left:3px solid #d00" title="window"></div></div>'
            f'<p>{budget.needed:,} of {budget.window:,} tokens: {verdict}</p>'
            + (f'<p class="lh-estimate">Counts are {html.escape(budget.estimate)}.</p>'
               if budget.estimate else "") +
            f'<p style="font-size:90%">{" · ".join(legend)}</p></div>')


def trust_html(wb, project, backend_name: str, model: str, prompt_tokens: int) -> str:
    """The latest trust check of `model` on `backend_name` (a backend's `.name` and `.model`)
    for `project`, and the warning for a prompt of `prompt_tokens` when it falls in a region
    that scored badly."""
    from workbench.trust.summary import latest_trust

    if not project:
        return ""
    summary = latest_trust(project, backend_name, model, library=wb.library)
    if summary is None:
        return (f'<p id="lh-syn-trust">No trust check of {html.escape(model)} in this '
                "project yet (Trust tab).</p>")
    note = f'<p id="lh-syn-trust">{html.escape(summary.describe())}</p>'
    warning = summary.warns_for(prompt_tokens)
    if warning:
        note += (f'<p id="lh-syn-trust-warning" style="color:#b00">⚠ '
                 f"{html.escape(warning)}</p>")
    return note


def adapter_choices(wb, project, model: str | None) -> list[tuple[str, str]]:
    """(label, model name) of the project's finished adapters trained on `model`: `base+name`,
    or `base+<project id>/name` when another project has an adapter of the same name."""
    from engine import models
    from workbench.adapters.service import open_store

    if not project or not model:
        return []

    def canonical(name: str) -> str:
        spec = models.KNOWN.get(name.strip().lower())
        return spec.name if spec else name.strip()

    project_id = wb.project(project).id
    store = open_store(wb.library)
    try:
        out = []
        for a in store.list(project_id):
            if a.status != "ready" or canonical(a.base_model) != canonical(model):
                continue
            unique = len(store.named(a.name)) == 1
            out.append((f"{model}+{a.name}",
                        f"{model}+{a.name}" if unique else f"{model}+{project_id}/{a.name}"))
        return out
    finally:
        store.close()


def job_model(model: str | None, adapter: str | None) -> str | None:
    """The model name a job runs on: the chosen `base+adapter`, else the model field."""
    return adapter or model or None


def verified_count(citations: list[dict]) -> str:
    """"verified/cited" of the model's own citations, and how many sentences were matched."""
    cited = [c for c in citations if (c.get("origin") or "model") == "model"]
    matched = len({c.get("sentence") for c in citations if c.get("origin") == "matched"})
    return (f"{sum(c['verified'] for c in cited)}/{len(cited)}"
            + (f" · {matched} sentences matched" if matched else ""))


def cache_line(artifact) -> str:
    """"N of M prompt tokens from cache" (the engine's prefix cache) and time to first token."""
    cached = artifact.extra.get("cached_tokens", 0) or 0
    line = f"{cached:,} of {artifact.prompt_tokens:,} prompt tokens from cache"
    ttft = artifact.extra.get("ttft_s")
    return line if ttft is None else f"{line} · first token after {ttft:.1f} s"


def build(ctx: AppContext) -> None:
    wb = ctx.workbench
    threading.Thread(target=_resume_orphans, args=(ctx,), daemon=True).start()

    def backend_for(model: str | None):
        if not model or model == ctx.settings.model:
            wb.use_backend(ctx.backend())
        return wb.model_backend(model or None)

    def request_args(project, docs, task, question, model, max_new, map_reduce, adapter):
        return dict(project=project, task=task, prompt=question or "",
                    documents=[int(d) for d in docs or []], model=job_model(model, adapter),
                    max_new_tokens=int(max_new), strategy="map-reduce" if map_reduce else "auto")

    with gr.Tab("Synthesize", id="synthesize") as tab:
        with gr.Row():
            project = gr.Dropdown(label="Project", choices=[], allow_custom_value=True,
                                  elem_id="lh-syn-project", scale=2)
            task = gr.Dropdown(label="Template", value="coverage", elem_id="lh-syn-task",
                               choices=[(t.title, t.name) for t in TEMPLATES.values()], scale=2)
            model = gr.Dropdown(label="Model", value=ctx.settings.model, scale=2,
                                choices=model_names(wb, ctx.settings.model),
                                allow_custom_value=True, elem_id="lh-syn-model")
            max_new = gr.Number(label="Answer tokens", value=256, precision=0, minimum=1,
                                scale=1)
        docs = gr.CheckboxGroup(label="Documents", choices=[], elem_id="lh-syn-docs")
        adapter = gr.Dropdown(label="LoRA adapter (optional)", choices=[NO_ADAPTER], value="",
                              elem_id="lh-syn-adapter")
        question = gr.Textbox(label="Question (needed for the free prompt)", lines=2,
                              elem_id="lh-syn-question")
        with gr.Row():
            map_reduce = gr.Checkbox(label="Map-reduce if it does not fit", value=False)
            detach = gr.Checkbox(label="Run on a worker", value=False, elem_id="lh-syn-detach",
                                 info="queued for `python -m workbench worker` processes")
            check = gr.Button("Check budget", elem_id="lh-syn-budget-btn")
            run = gr.Button("Run", variant="primary", elem_id="lh-syn-run")
            cancel = gr.Button("Cancel", variant="stop", elem_id="lh-syn-cancel")
        budget = gr.HTML(elem_id="lh-syn-budget")
        status = gr.Markdown(elem_id="lh-syn-status")
        facts = facts_views.panel("lh-syn")  # tables and charts computed by code, not the model
        output = gr.HTML(elem_id="lh-syn-output")
        job_id = gr.State(None)
        artifacts = gr.Dataframe(headers=["ID", "Template", "Model", "Strategy", "Tokens in",
                                          "Tokens out", "Seconds", "Verified citations"],
                                 label="Past artifacts", interactive=False,
                                 elem_id="lh-syn-artifacts")
        with gr.Accordion("Jobs of this project (this app's and workers')", open=False,
                          elem_id="lh-syn-jobs-box"):
            jobs = gr.Dataframe(headers=job_rows.HEADERS, interactive=False,
                                elem_id="lh-syn-jobs")
            jobs_refresh = gr.Button("Refresh jobs", elem_id="lh-syn-jobs-refresh")
        with gr.Row():
            art_id = gr.Number(label="Artifact", precision=0)
            fmt = gr.Radio(["md", "csv", "srt", "edl"], value="md", label="Export as")
            show = gr.Button("Show / export")
        exported = gr.Code(label="Export", language="markdown")

    def refresh(selected):
        names = [p.name for p in wb.projects()]
        value = selected if selected in names else (names[0] if names else None)
        return gr.Dropdown(choices=names, value=value)

    def project_docs(name, t):
        return doc_defaults.doc_choices(wb, name, t), rows(name)

    def rows(name):
        return [[a.id, a.title, a.model, a.strategy, a.prompt_tokens, a.completion_tokens,
                 round(a.seconds, 1), verified_count(a.citations)]
                for a in wb.artifacts(name)] if name else []

    def adapters_for(name, m, current=None):
        """"none" first, then the finished adapters; a still offered choice stays chosen."""
        choices = [NO_ADAPTER, *adapter_choices(wb, name, m)]
        keep = current if current in {c[1] for c in choices} else ""
        return gr.Dropdown(choices=choices, value=keep)

    @friendly("Budget", 1)
    def show_budget(p, d, t, q, m, n, mr, ad):
        args = request_args(p, d, t, q, m, n, mr, ad)
        backend = backend_for(args["model"])
        planned = wb.plan_synthesis(args.pop("project"), args.pop("task"), args.pop("prompt"),
                                    args.pop("documents"), **args)
        plan = f'<p id="lh-syn-plan">{html.escape(planned.plan_text)}</p>' if not mr else \
            parts_html(describe_parts(wb.map_reduce_parts(planned)))  # what map-reduce reads
        return budget_html(planned.budget) + plan + trust_html(
            wb, p, backend.name, backend.model, planned.budget.prompt_tokens)

    def start(p, d, t, q, m, n, mr, ad, on_worker):
        try:
            args = request_args(p, d, t, q, m, n, mr, ad)
            backend_for(args["model"])
            job = wb.synthesize(args.pop("project"), args.pop("task"), args.pop("prompt"),
                                args.pop("documents"), background=not on_worker,
                                detach=bool(on_worker), **args)
        except Exception as exc:  # noqa: BLE001 - shown to the user, nothing else to do
            gr.Warning(for_ui(str(exc)), duration=None, title="Synthesis")
            yield None, gr.skip(), gr.skip(), gr.skip()
            return
        said = "queued for a worker" if on_worker else "started"
        yield job.id, f"job {job.id} {said}", "", gr.skip()
        for snap in wb.jobs.follow(job.id, POLL_S):  # the row, whoever runs it
            text = html.escape(snap.partial_text)
            note = snap.message or (job_rows.runs_on(snap) if snap.detached else "")
            yield (job.id, f"job {snap.id}: {snap.status} · {job_rows.progress(snap)} · "
                   f"{note}", bar_html(snap.figures) + '<div id="lh-answer" '
                   f'style="white-space:pre-wrap">{text}</div>', gr.skip())
        final = wb.job_status(job.id)
        if final.status != "done":
            yield job.id, f"job {final.id}: {final.status} {final.error or ''}", gr.skip(), \
                rows(p)
            return
        ans = wb.answer(job.id)
        a = ans.artifact
        usd = ", ".join(f"{k} ${v:.4f}" for k, v in a.cost["usd"].items())
        yield (job.id, f"job {job.id}: done · {a.strategy} · {a.prompt_tokens:,} tokens in, "
               f"{a.completion_tokens:,} out · {a.seconds:.1f} s · {cache_line(a)} · "
               f"at API prices: {usd} · {artifact_rows.saved_line(a)}",
               answer_html(*facts_views.model_answer(a, ans.citations), wb.sections), rows(p))

    @friendly("Cancel", 1)
    def stop(jid):
        if jid is None:
            return "no job is running"
        job = wb.cancel_job(int(jid))
        return f"job {job.id}: cancel requested"

    @friendly("Export", 1)
    def do_export(aid, f):
        return wb.export_artifact(int(aid), f)

    inputs = [project, docs, task, question, model, max_new, map_reduce, adapter]
    project.focus(refresh, project, project)
    project_memory.follow(tab, project, refresh)  # the Library's project, when opened
    model.focus(lambda m: gr.Dropdown(choices=model_names(wb, m)), model, model)
    project.change(project_docs, [project, task], [docs, artifacts])
    doc_defaults.wire(wb, project, task, docs)
    project.change(adapters_for, [project, model], adapter)
    model.change(adapters_for, [project, model], adapter)
    adapter.focus(adapters_for, [project, model, adapter], adapter)  # newly trained: shown
    check.click(show_budget, inputs, budget)

    def job_table(name):
        return job_rows.rows(wb, name)

    run.click(start, [*inputs, detach], [job_id, status, output, artifacts]).then(
        lambda jid: facts_views.of_job(wb, jid), job_id, facts.outputs).then(
        job_table, project, jobs)
    project.change(job_table, project, jobs)
    jobs_refresh.click(job_table, project, jobs)
    cancel.click(stop, job_id, status)
    show.click(do_export, [art_id, fmt], exported).success(
        lambda aid: facts_views.of_artifact(wb, aid), art_id, facts.outputs)
    artifact_rows.wire(wb, artifacts, art_id, status, output).then(
        lambda aid: facts_views.of_artifact(wb, aid), art_id, facts.outputs)


def _resume_orphans(ctx: AppContext) -> None:
    """Jobs left unfinished by a crash or restart continue when the app starts again."""
    if ctx.settings.database_url is None and not ctx.settings.db_path.exists():
        return  # a fresh data dir has no jobs to resume
    try:
        store_jobs = ctx.workbench.jobs
        if any(store_jobs.is_orphan(j) for j in store_jobs.store.jobs(
                statuses=("queued", "running", "interrupted"))):
            ctx.workbench.use_backend(ctx.backend())
            store_jobs.resume_interrupted()
    except Exception as exc:  # noqa: BLE001 - a start-up convenience must not stop the app
        print(f"longhand: could not resume interrupted jobs: {exc}")
