"""Artifact exports: Markdown for every job, CSV for shot lists, SRT for pacing notes.

Markdown carries the answer with unverified citations marked, the citation table, and the
cost panel (model, parameters, tokens, time, API-price estimates with the table's date).
CSV is the fenced table the shot-list contract asks for, re-written by the csv module (so a
malformed answer fails loudly). SRT places each note that starts with a timecode at that time.

Does not know the database; it is given an ArtifactInfo.
"""
from __future__ import annotations

import csv
import io
import re

from workbench.errors import WorkbenchError
from workbench.synthesis.citations import Citation, annotate

NOTE_RE = re.compile(r"^\s*(?:[-*]\s*)?\[(\d{1,3}):([0-5]\d):([0-5]\d)\]\s*(.+)$", re.M)
CSV_RE = re.compile(r"```csv\s*\n(.*?)```", re.S)
NOTE_SECONDS = 4.0


def _citations(artifact) -> list[Citation]:
    return [Citation.from_record(c) for c in artifact.citations]


def markdown(artifact) -> str:
    cites = _citations(artifact)
    lines = [f"# {artifact.title}", "", annotate(artifact.text, cites), "", "## Citations", ""]
    if cites:
        lines += ["| anchor | document | verified | note |", "|---|---|---|---|"]
        for c in cites:
            note = c.reason.replace("|", "\\|") if c.reason else (
                f'"{c.quote}"' if c.quote else "")
            if c.origin == "matched":
                note = f'matched to: {(c.sentence or "")[:80]}'.replace("|", "\\|")
            lines.append(f"| {c.anchor} | {c.document_id or '-'} | "
                         f"{'yes' if c.verified else 'NO'} | {note} |")
    else:
        lines.append("The answer cites no anchors.")
    usd = artifact.cost.get("usd", {})
    lines += [
        "", "## Run", "",
        f"- model: {artifact.model} ({artifact.backend})",
        f"- strategy: {artifact.strategy}",
        f"- parameters: {', '.join(f'{k}={v}' for k, v in sorted(artifact.params.items()))}",
        f"- tokens: {artifact.prompt_tokens:,} in, {artifact.completion_tokens:,} out",
        f"- window: {artifact.budget.get('window', '?'):,} tokens, "
        f"{artifact.budget.get('reserved_output', '?')} reserved for the answer",
        f"- time: {artifact.seconds:.1f} s",
        f"- the same tokens at API prices ({artifact.cost.get('price_table_date', '?')}): "
        + ", ".join(f"{m} ${v:.4f}" for m, v in usd.items()),
    ]
    if artifact.thinking:
        lines += ["", "## Reasoning (kept apart from the answer)", "", artifact.thinking.strip()]
    return "\n".join(lines) + "\n"


def shot_list_csv(artifact) -> str:
    m = CSV_RE.search(artifact.text)
    body = m.group(1) if m else artifact.text
    rows = [r for r in csv.reader(io.StringIO(body.strip())) if any(x.strip() for x in r)]
    if not rows or len(rows[0]) < 2:
        raise WorkbenchError("the answer holds no CSV table to export")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    width = len(rows[0])
    for r in rows:
        writer.writerow((r + [""] * width)[:width])
    return out.getvalue()


def _srt_time(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def pacing_srt(artifact) -> str:
    notes = sorted((int(h) * 3600 + int(m) * 60 + int(s), text.strip())
                   for h, m, s, text in NOTE_RE.findall(artifact.text))
    if not notes:
        raise WorkbenchError("the answer has no notes that start with a [hh:mm:ss] timecode")
    blocks = []
    for i, (start, text) in enumerate(notes, 1):
        end = start + NOTE_SECONDS
        blocks.append(f"{i}\n{_srt_time(start)} --> {_srt_time(end)}\n{text}\n")
    return "\n".join(blocks)


EXPORTS = {"md": markdown, "csv": shot_list_csv, "srt": pacing_srt}


def export(artifact, fmt: str = "md") -> str:
    try:
        return EXPORTS[fmt](artifact)
    except KeyError:
        raise WorkbenchError(f"unknown export format {fmt!r}: choose md, csv or srt") from None
