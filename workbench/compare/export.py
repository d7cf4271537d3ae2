"""A stored comparison as Markdown, CSV or JSON text: `render(data, fmt)`.

Markdown: the figure table, the computed facts once (they do not depend on the model), then
each model's answer under its name. CSV: one line per model
with the figures (cost as one column per API price) and the answer text. JSON: the data as is.
Does not know where the text is written (the facade passes it to the library's safe write).
"""
from __future__ import annotations

import csv
import io
import json

from workbench.synthesis.facts import Facts

FORMATS = ("md", "csv", "json")
FIGURES = ("model", "seconds", "ttft_s", "tokens_per_s", "prompt_tokens", "cached_tokens",
           "completion_tokens", "citations", "citations_verified", "trust_score", "strategy",
           "artifact_id", "error")


def _prices(rows: list) -> list[str]:
    return sorted({k for r in rows for k in ((r.get("cost") or {}).get("usd") or {})})


def _cell(value) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(data: dict) -> str:
    rows, prices = data["rows"], _prices(data["rows"])
    head = [*FIGURES, *(f"usd {p}" for p in prices)]
    lines = [f"# Comparison {data['comparison_id']}: {data.get('task') or 'free'}", ""]
    if data.get("prompt"):
        lines += [f"> {data['prompt']}", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        usd = (r.get("cost") or {}).get("usd") or {}
        lines.append("| " + " | ".join([*(_cell(r.get(k)) for k in FIGURES),
                                        *(_cell(usd.get(p)) for p in prices)]) + " |")
    facts = Facts.from_json(data.get("facts"))
    if facts is not None:  # the same for every model: once, before the answers
        lines += ["", facts.to_markdown().rstrip()]
    for r in rows:
        lines += ["", f"## {r['model']}", "", r.get("text") or f"_error: {r.get('error')}_"]
    for v in data.get("votes", []):
        lines += ["", f"Vote: {v['winner']} ({v['winner_model'] or v['winner']}) {v['note']}"]
    return "\n".join(lines).rstrip() + "\n"


def _csv(data: dict) -> str:
    prices = _prices(data["rows"])
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([*FIGURES, *(f"usd {p}" for p in prices), "text"])
    for r in data["rows"]:
        usd = (r.get("cost") or {}).get("usd") or {}
        writer.writerow([*("" if r.get(k) is None else r.get(k) for k in FIGURES),
                         *(usd.get(p, "") for p in prices), r.get("text") or ""])
    return buf.getvalue()


def render(data: dict, fmt: str) -> str:
    if fmt == "md":
        return _markdown(data)
    if fmt == "csv":
        return _csv(data)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
