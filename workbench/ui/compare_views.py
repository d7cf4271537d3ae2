"""The Compare tab's column views as HTML: open (name, answer with clickable citations, figures),
blind (A/B/..., masked text only) and the leaderboard frame.

Citations are rendered by answer_view.answer_html, as in the Synthesize tab (verified anchors
link to their passage, matched passages follow their sentences, all listed below); each
column's ids get a `c{N}-` prefix so two columns citing the same passage do not share an id.
Columns show each model's answer without the computed facts, which the tab shows once. Blind
columns show no citations: they are drawn from the unmasked text, whose positions the masked
text no longer has. Plain functions, tested without
a browser. Does not know SQL, prompts or ratings.
"""
from __future__ import annotations

import html

import pandas as pd

from workbench.synthesis.citations import Citation
from workbench.ui.answer_view import answer_html
from workbench.ui.facts_views import model_answer

MAX_COLUMNS = 4
BOARD_HEADERS = ["Model", "Rating", "Wins", "Losses", "Ties", "Median s"]


def pad(blocks: list[str], width: int = MAX_COLUMNS) -> list[str]:
    return (blocks + [""] * width)[:width]


def text_block(head: str, text: str) -> str:
    """A heading and plain text (a blind or streaming column)."""
    return (f"<h3>{html.escape(head)}</h3>"
            f'<div style="white-space:pre-wrap">{html.escape(text)}</div>')


def figures(r: dict) -> str:
    if r.get("error"):
        return f"<b>error:</b> {html.escape(r['error'])}"
    usd = (r.get("cost") or {}).get("usd") or {}
    priced = ", ".join(f"{k} ${v:.4f}" for k, v in list(usd.items())[:2])
    trust = "none yet" if r["trust_score"] is None else f"{r['trust_score']:.0%}"
    lines = [f"{r['seconds']} s · first token {r['ttft_s']} s · {r['tokens_per_s']} tok/s",
             f"{r['prompt_tokens']:,} in ({r['cached_tokens']:,} cached) · "
             f"{r['completion_tokens']:,} out",
             f"{r['citations_verified']}/{r['citations']} citations verified · trust {trust}"
             f" · {r['strategy']}",
             f"at API prices: {priced} · artifact {r['artifact_id']}"]
    return '<div class="lh-figures">' + "<br>".join(html.escape(s) for s in lines) + "</div>"


def _scoped(block: str, i: int) -> str:
    """answer_html's ids made unique per column (its text is escaped: no stray quotes)."""
    return (block.replace('id="lh-answer"', f'id="lh-compare-answer-{i}"')
            .replace('href="#src-', f'href="#c{i}-src-').replace('id="src-', f'id="c{i}-src-'))


def _citations(art) -> list[Citation]:
    return [Citation.from_record(c) for c in art.citations]


def open_columns(wb, data: dict) -> list[str]:
    """One block per model: its name, answer (citations linked) and figures."""
    out = []
    for i, r in enumerate(data["rows"]):
        body = ""
        if r.get("artifact_id"):
            art = wb.artifact(r["artifact_id"])
            text, cites = model_answer(art, _citations(art))
            body = _scoped(answer_html(text, cites, wb.sections), i)
        out.append(f"<h3>{html.escape(r['model'])}</h3>{body}<hr>{figures(r)}")
    return pad(out)


def blind_columns(blind: dict) -> list[str]:
    return pad([text_block(a["label"], a["text"]) for a in blind["answers"]])


def board_frame(board: dict) -> pd.DataFrame:
    return pd.DataFrame([[r["model"], r["rating"], r["wins"], r["losses"], r["ties"],
                          r["median_seconds"]] for r in board["rows"]], columns=BOARD_HEADERS)


def view(wb, comparison_id: int | None, blind: bool) -> list[str]:
    if comparison_id is None:
        return pad([])
    if blind:
        return blind_columns(wb.compare_blind(comparison_id))
    return open_columns(wb, wb.comparison_json(comparison_id))
