"""The LoRA tab: pick the documents that carry the house style, preview the dataset, train an
adapter in the background with a live loss curve, cancel, compare before/after, pick any
checkpoint, export.

Handlers are thin: the dataset, training, evaluation and registry live in workbench/adapters;
a run is a `TrainingRun` thread whose view the run handler polls once a second (a closed
browser tab does not stop it; the adapter row and checkpoints make it resumable).
Does not know SQL, PEFT or torch.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from workbench.adapters.dataset import DatasetSettings
from workbench.adapters.service import TrainRequest
from workbench.adapters.training import TrainSettings
from workbench.context import AppContext
from workbench.errors import WorkbenchError
from workbench.ui.feedback import friendly
from workbench.ui.wording import for_ui

POLL_S = 1.0
ADAPTER_HEADERS = ["Name", "Status", "Step", "In use", "Loss before", "Loss after", "Created"]


def _loss_frame(losses) -> pd.DataFrame:
    return pd.DataFrame([{"step": s, "loss": l} for s, l in losses],
                        columns=["step", "loss"])


def _samples_frame(samples) -> pd.DataFrame:
    return pd.DataFrame([[s["prompt"], s["base"], s["adapter"]] for s in samples or []],
                        columns=["Prompt", "Without adapter", "With adapter"])


def _eval_text(result: dict) -> str:
    ev = result.get("eval")
    if not ev:
        return f"Adapter **{result['adapter']}** stopped at step {result['steps']}: resume " \
               "by starting the same training again."
    return (f"Adapter **{result['adapter']}**: held-out loss {ev['loss_before']:.4f} → "
            f"**{ev['loss_after']:.4f}**, perplexity {ev['perplexity_before']:.2f} → "
            f"**{ev['perplexity_after']:.2f}** ({ev['held_out_tokens']} held-out tokens). "
            f"Use it as model `{{base}}+{result['adapter']}`.")


def build(ctx: AppContext) -> None:
    wb = ctx.workbench
    runs: dict[str, object] = {}

    with gr.Tab("LoRA", id="lora") as tab:
        gr.Markdown("Train a house-style adapter on your own documents, on this machine. "
                    "Documents with role **style** are used unless you choose others.")
        with gr.Row(equal_height=True):
            project = gr.Dropdown(label="Project", choices=[], allow_custom_value=True,
                                  scale=3, elem_id="lh-lora-project")
            refresh = gr.Button("Refresh projects", scale=1)
        docs = gr.CheckboxGroup(label="Documents", choices=[], elem_id="lh-lora-docs")
        targets = gr.Markdown(elem_id="lh-lora-targets")
        with gr.Row():
            steps = gr.Number(label="Steps", value=TrainSettings.steps, precision=0, minimum=1)
            rank = gr.Number(label="Rank", value=TrainSettings.rank, precision=0, minimum=1)
            lr = gr.Number(label="Learning rate", value=TrainSettings.learning_rate)
            max_tokens = gr.Number(label="Tokens per example", value=DatasetSettings.max_tokens,
                                   precision=0, minimum=16)
            every = gr.Number(label="Checkpoint every", value=TrainSettings.checkpoint_every,
                              precision=0, minimum=1)
            layers = gr.Number(label="Top layers only (0 = all)", value=0, precision=0,
                               minimum=0)
        with gr.Row():
            preview_btn = gr.Button("Preview dataset")
            train_btn = gr.Button("Train adapter", variant="primary", elem_id="lh-lora-train")
            cancel_btn = gr.Button("Cancel", variant="stop", elem_id="lh-lora-cancel")
        status = gr.Markdown(elem_id="lh-lora-status")
        plot = gr.LinePlot(value=_loss_frame([]), x="step", y="loss", title="Training loss",
                           elem_id="lh-lora-loss")
        examples = gr.Dataframe(label="Dataset preview", wrap=True, interactive=False)
        samples = gr.Dataframe(value=_samples_frame([]), label="Same prompts, side by side",
                               wrap=True, interactive=False, elem_id="lh-lora-samples")
        adapters = gr.Dataframe(value=pd.DataFrame(columns=ADAPTER_HEADERS), label="Adapters",
                                interactive=False, elem_id="lh-lora-adapters")
        with gr.Row():
            chosen = gr.Dropdown(label="Adapter", choices=[], scale=2)
            checkpoint = gr.Dropdown(label="Checkpoint", choices=[], scale=1)
            use_btn = gr.Button("Use this checkpoint", scale=1)
            export_btn = gr.Button("Export zip", scale=1)
        export_file = gr.File(label="Export", interactive=False)

    def request(name, doc_values, n_steps, r, rate, tokens, ck, top) -> TrainRequest:
        if not name:
            raise WorkbenchError("Choose a project first.")
        ids = tuple(int(v.split(":", 1)[0]) for v in doc_values or []) or None
        train = TrainSettings(steps=int(n_steps), rank=int(r), alpha=2 * int(r),
                              learning_rate=float(rate), checkpoint_every=int(ck),
                              layers=int(top) or None)
        return TrainRequest(project=name, doc_ids=ids, train=train,
                            data=DatasetSettings(max_tokens=int(tokens)))

    def adapter_rows(name):
        from workbench.adapters.service import list_adapters

        rows = list_adapters(wb.library, name) if name else []
        frame = pd.DataFrame([[a.name, a.status, f"{a.step}/{a.steps_total}", a.checkpoint,
                               a.metrics.get("loss_before"), a.metrics.get("loss_after"),
                               a.created_at.strftime("%Y-%m-%d %H:%M")] for a in rows],
                             columns=ADAPTER_HEADERS)
        return frame, gr.Dropdown(choices=[a.name for a in rows],
                                  value=rows[-1].name if rows else None)

    def project_choices(selected):
        names = [p.name for p in wb.projects()]
        return gr.Dropdown(choices=names,
                           value=selected if selected in names else (names[0] if names else None))

    @friendly("Could not open the project", 4)
    def show_project(name):
        from workbench.adapters.service import targets_note

        if not name:
            return gr.CheckboxGroup(choices=[], value=[]), "", *adapter_rows(None)
        documents = wb.library.documents(name)
        choices = [f"{d.id}: {d.title} ({d.role})" for d in documents]
        style = [c for c, d in zip(choices, documents) if d.role == "style"]
        note = "**What gets trained:** " + targets_note(wb.settings.model, wb.settings.cache_dir)
        return gr.CheckboxGroup(choices=choices, value=style), note, *adapter_rows(name)

    @friendly("Could not build the dataset", 2)
    def preview(*values):
        from workbench.adapters.service import preview as build_preview

        p = build_preview(wb.library, wb.settings, request(*values))
        lines = [f"{p['train_examples']} training and {p['held_out_examples']} held-out "
                 f"examples, {p['tokens']:,} tokens."]
        lines += [f"- ⛔ {e}" for e in p["errors"]] + [f"- ⚠️ {w}" for w in p["warnings"]]
        frame = pd.DataFrame([[e["split"], ", ".join(e["anchors"]), e["tokens"], e["text"]]
                              for e in p["examples"]],
                             columns=["Split", "Sections", "Tokens", "Text"])
        return "\n".join(lines), frame

    def run_training(*values, progress=gr.Progress()):
        from workbench.adapters.background import TrainingRun

        try:
            req = request(*values)
        except (WorkbenchError, ValueError, TypeError) as exc:
            gr.Warning(for_ui(str(exc)), title="Could not start training")
            return
        run = TrainingRun(wb.library, wb.settings, req).start()
        runs[req.project] = run
        while True:
            view = run.snapshot()
            if view.steps_total:
                progress((view.step, view.steps_total), desc=f"{view.status}", unit="steps")
            text = f"{view.status.capitalize()} {view.adapter or ''}: step {view.step}/" \
                   f"{view.steps_total}"
            if view.losses:
                text += f", loss {view.losses[-1][1]:.3f}"
            if view.finished:
                break
            yield text, _loss_frame(view.losses), gr.skip(), gr.skip(), gr.skip()
            time.sleep(POLL_S)
        if view.status == "failed":
            gr.Warning(view.error or "training failed", duration=None,
                       title="Training stopped")
            yield f"Failed: {view.error}", _loss_frame(view.losses), gr.skip(), \
                *adapter_rows(req.project)
            return
        summary = _eval_text(view.result).replace("{base}", wb.settings.model)
        yield summary, _loss_frame(view.losses), \
            _samples_frame(view.result.get("samples")), *adapter_rows(req.project)

    def cancel(name):
        run = runs.get(name)
        if run is None or run.snapshot().finished:
            return "Nothing is training in this project."
        run.cancel()
        return "Stopping after the current step (a checkpoint is written, so it can resume)…"

    @friendly("Could not list checkpoints", 1)
    def checkpoints_of(name, adapter):
        from workbench.adapters.service import get_adapter
        from workbench.adapters.training import checkpoints

        if not (name and adapter):
            return gr.Dropdown(choices=[], value=None)
        info = get_adapter(wb.library, name, adapter)
        steps = checkpoints(Path(info.path))
        return gr.Dropdown(choices=steps, value=info.checkpoint)

    @friendly("Could not switch checkpoints", 3)
    def use(name, adapter, step):
        from workbench.adapters.service import use_checkpoint

        if step is None:
            raise WorkbenchError("Choose a checkpoint.")
        info = use_checkpoint(wb.library, name, adapter, int(step))
        return f"{info.name} now uses checkpoint {info.checkpoint}.", *adapter_rows(name)

    @friendly("Could not export the adapter", 1)
    def export(name, adapter):
        from workbench.adapters.service import export_adapter

        if not adapter:
            raise WorkbenchError("Choose an adapter.")
        out = Path(tempfile.mkdtemp(prefix="longhand-adapter-")) / f"{adapter}.zip"
        return str(export_adapter(wb.library, name, adapter, out))

    settings_inputs = [project, docs, steps, rank, lr, max_tokens, every, layers]
    refresh.click(project_choices, project, project)
    tab.select(project_choices, project, project)
    project.change(show_project, project, [docs, targets, adapters, chosen])
    preview_btn.click(preview, settings_inputs, [status, examples])
    train_btn.click(run_training, settings_inputs, [status, plot, samples, adapters, chosen])
    cancel_btn.click(cancel, project, status)
    chosen.change(checkpoints_of, [project, chosen], checkpoint)
    use_btn.click(use, [project, chosen, checkpoint], [status, adapters, chosen])
    export_btn.click(export, [project, chosen], export_file)
