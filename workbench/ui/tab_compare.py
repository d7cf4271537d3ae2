"""The Compare tab: run the same job on several models, read the answers side by side with
each model's figures under its column and the computed facts once above them, switch to
blind (A/B/..., names masked), vote, and see the project's leaderboard.

Handlers are thin and call the facade (workbench/compare/api.py); the column views are plain
functions (workbench/ui/compare_views.py; citations clickable in the open view) tested
without a browser. While a comparison runs, each column streams its model's partial answer
(workbench/ui/compare_stream.py, masked and unnamed when blind); once it is stored, the
columns show the stored view with the figures (or the shuffled A/B/... when blind). Shows at
most MAX_COLUMNS models.
Does not know SQL, prompts or ratings.
"""
from __future__ import annotations

import threading

import gradio as gr
import pandas as pd

from engine.errors import EngineError

from workbench.context import AppContext
from workbench.errors import WorkbenchError
from workbench.synthesis.facts import Facts
from workbench.synthesis.templates import TEMPLATES
from workbench.ui import facts_views
from workbench.ui.compare_stream import LiveColumns
from workbench.ui.compare_views import BOARD_HEADERS, MAX_COLUMNS, board_frame, view
from workbench.ui.feedback import friendly
from workbench.ui.wording import for_ui

POLL_S = 0.5  # how often the streaming columns are redrawn


def build(ctx: AppContext) -> None:
    wb = ctx.workbench
    with gr.Tab("Compare", id="compare"):
        gr.Markdown("Run the same job on several models (local or added with add-model) and "
                    "compare the answers, their time, cost, citations and trust. Switch to "
                    "blind to vote without knowing which model wrote what.")
        with gr.Row(equal_height=True):
            project = gr.Dropdown(label="Project", choices=[], allow_custom_value=True,
                                  scale=2, elem_id="lh-compare-project")
            models = gr.Dropdown(label="Models", choices=[], multiselect=True,
                                 allow_custom_value=True, scale=3, elem_id="lh-compare-models")
            refresh = gr.Button("Refresh", scale=1, elem_id="lh-compare-refresh")
        with gr.Row():
            task = gr.Dropdown(label="Job", choices=sorted(TEMPLATES), value="free", scale=1)
            prompt = gr.Textbox(label="Prompt (or the question for a job)", scale=3,
                                elem_id="lh-compare-prompt")
            tokens = gr.Number(label="Max new tokens", value=256, precision=0, minimum=1,
                               scale=1, elem_id="lh-compare-tokens")
        with gr.Row():
            run = gr.Button("Compare", variant="primary", elem_id="lh-compare-run")
            blind = gr.Checkbox(label="Blind", value=True, elem_id="lh-compare-blind")
        comparison = gr.State(None)
        status = gr.Markdown(elem_id="lh-compare-status")
        facts = facts_views.panel("lh-compare")  # once: the same for every model
        with gr.Row():
            cols = [gr.HTML(elem_id=f"lh-compare-col-{i}") for i in range(MAX_COLUMNS)]
        with gr.Row():
            winner = gr.Radio(["A", "B", "C", "D", "tie", "both-bad"], label="Your vote",
                              elem_id="lh-compare-winner")
            note = gr.Textbox(label="Note", scale=2)
            vote = gr.Button("Vote", elem_id="lh-compare-vote")
        board = gr.Dataframe(value=pd.DataFrame(columns=BOARD_HEADERS), label="Leaderboard",
                             interactive=False, elem_id="lh-compare-board")

    def choices(selected):
        names = [p.name for p in wb.projects()]
        known = [m.name for m in _known_models()] + [r.name for r in wb.remotes.list()]
        return (gr.Dropdown(choices=names, value=selected if selected in names
                            else (names[0] if names else None)),
                gr.Dropdown(choices=known))

    def run_compare(name, chosen, job, text, max_tokens, is_blind):
        """Stream each model's partial answer into its column, then show the stored view."""
        skips = tuple(gr.skip() for _ in range(2 + MAX_COLUMNS))
        chosen = list(dict.fromkeys(m.strip() for m in (chosen or []) if m.strip()))
        try:
            if not name:
                raise WorkbenchError("Choose a project first.")
            if len(chosen) < 2:
                raise WorkbenchError("Choose at least two different models to compare.")
            if ctx.settings.model in chosen:
                wb.use_backend(ctx.backend())  # the app's loaded model, not a second copy
        except (WorkbenchError, EngineError) as exc:
            gr.Warning(for_ui(str(exc)), duration=None, title="Could not run the comparison")
            yield skips
            return
        live = LiveColumns(chosen, _names_to_mask(wb, chosen))
        done, result = threading.Event(), {}

        def work():
            try:
                result["data"] = wb.compare(name, job or "free", text or "", models=chosen,
                                            max_new_tokens=int(max_tokens or 256),
                                            progress=live.progress, on_model=live.start)
            except Exception as exc:  # noqa: BLE001 -- shown below, in the handler's thread
                result["error"] = exc
            finally:
                done.set()

        threading.Thread(target=work, daemon=True).start()
        while not done.wait(POLL_S):
            yield None, live.status(is_blind), *live.columns(is_blind, MAX_COLUMNS)
        if "error" in result:
            if not isinstance(result["error"], (WorkbenchError, EngineError)):
                raise result["error"]
            gr.Warning(str(result["error"]), duration=None, title="Could not run the comparison")
            yield skips
            return
        data = result["data"]
        failed = [r["model"] for r in data["rows"] if r.get("error")]
        msg = f"Comparison {data['comparison_id']} done" + (
            f"; {len(failed)} failed" if is_blind and failed else
            f"; failed: {', '.join(failed)}" if failed else "")
        yield (data["comparison_id"], msg, *view(wb, data["comparison_id"], is_blind))

    @friendly("Could not show the comparison", MAX_COLUMNS)
    def switch(current, is_blind):
        return tuple(view(wb, current, is_blind))

    @friendly("Could not record the vote", 3 + MAX_COLUMNS)
    def cast(current, choice, text, name):
        if current is None or not choice:
            raise WorkbenchError("Run a comparison and choose A, B, tie or both-bad first.")
        done = wb.vote(current, choice, text or "")
        shown = ", ".join(f"{k} = {v}" for k, v in done["revealed"].items())
        return (f"Vote recorded: {done['winner']}. {shown}", False,
                board_frame(wb.leaderboard(name)), *view(wb, current, False))

    refresh.click(choices, project, [project, models])
    run.click(run_compare, [project, models, task, prompt, tokens, blind],
              [comparison, status, *cols]).then(
        lambda cid: facts_views.values(None if cid is None else Facts.from_json(
            wb.comparison_facts(cid))), comparison, facts.outputs)
    blind.change(switch, [comparison, blind], cols)
    vote.click(cast, [comparison, winner, note, project], [status, blind, board, *cols])


def _names_to_mask(wb, models: list[str]) -> list[str]:
    """The compared ids and each remote's server-side id: hidden while a blind run streams."""
    names = list(models)
    for m in models:
        remote = wb.remotes.get(m)
        if remote is not None:
            names.append(remote.remote_model)
    return names


def _known_models():
    from engine.models import known_models

    return known_models()
