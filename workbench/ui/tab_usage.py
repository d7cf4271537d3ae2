"""The Usage tab (admin): the HTTP API's requests, tokens and cost per client key, per model and
per day, with a plot per day and per key.

Admin only by construction: the UI answers on loopback (the machine's own user) or, off
loopback, only after login with the admin --api-key (auth.KeyGate refuses the UI's routes to
client keys), so whoever sees this tab is the admin.
Handlers are thin: the sums come from the library (workbench/library/usage_store.py).
Does not know SQL or how rows are written.
"""
from __future__ import annotations

from datetime import date

import gradio as gr
import pandas as pd

from workbench.context import AppContext
from workbench.errors import WorkbenchError
from workbench.ui.feedback import friendly

COLUMNS = ["requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens", "cost",
           "avg_latency_ms", "avg_ttft_ms"]


def report(ctx: AppContext, since: str | None):
    """(table per key, requests per day and key, cost per key) as DataFrames."""
    since = (since or "").strip() or None
    if since is not None:
        try:
            date.fromisoformat(since)
        except ValueError as exc:
            raise WorkbenchError(f"'Since' must be a date YYYY-MM-DD, not {since!r}") from exc
    usage = ctx.workbench.usage
    by_key = usage.summary("key", since)
    table = pd.DataFrame([[r["key"], *(r[c] for c in COLUMNS)] for r in by_key],
                         columns=["key", *COLUMNS])
    daily = pd.DataFrame([[r["day"], r["key"], r["requests"]]
                          for r in usage.summary("day", since, also="key")],
                         columns=["day", "key", "requests"])
    keys = pd.DataFrame([[r["key"], r["requests"], r["cost"]] for r in by_key],
                        columns=["key", "requests", "cost"])
    return table, daily, keys


def build(ctx: AppContext) -> None:
    with gr.Tab("Usage", elem_id="lh-usage-tab") as tab:
        gr.Markdown("Requests to the HTTP API by client key (`python -m workbench keys "
                    "create NAME`), with tokens and the cost at API prices. Prompt text is "
                    "kept only with `--store-prompts`.")
        with gr.Row():
            since = gr.Textbox(label="Since (YYYY-MM-DD, empty: all)", scale=3,
                               elem_id="lh-usage-since")
            refresh = gr.Button("Refresh", scale=1, elem_id="lh-usage-refresh")
        table = gr.Dataframe(value=pd.DataFrame(columns=["key", *COLUMNS]), label="Per key",
                             interactive=False, elem_id="lh-usage-table")
        with gr.Row():
            per_day = gr.BarPlot(value=pd.DataFrame(columns=["day", "key", "requests"]),
                                 x="day", y="requests", color="key", title="Requests per day",
                                 elem_id="lh-usage-per-day")
            per_key = gr.BarPlot(value=pd.DataFrame(columns=["key", "requests", "cost"]),
                                 x="key", y="requests", title="Requests per key",
                                 elem_id="lh-usage-per-key")

    @friendly("Could not read the usage", 3)
    def show(since_text):
        return report(ctx, since_text)

    outputs = [table, per_day, per_key]
    refresh.click(show, inputs=[since], outputs=outputs, api_name="usage_report")
    tab.select(show, inputs=[since], outputs=outputs, api_name=False)
