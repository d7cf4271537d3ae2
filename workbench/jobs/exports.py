"""Artifact exports: Markdown for every job, CSV tables, SRT and EDL markers for pacing.

Markdown carries the text (the computed facts, then the answer) with unverified citations
marked, the citation table, and the cost panel (model, parameters, tokens, time, API-price
estimates with the table's date). CSV is the fenced table the shot-list contract asks for when
the answer has one, re-written by the csv module; otherwise the computed facts' tables
(synthesis/facts/model.py). SRT places each note of the answer that starts with a timecode at
that time, and the facts' suggested cut points over their time range; EDL (CMX 3600, 25 fps,
non-drop) lists the same markers as events with their notes as comments.

Does not know the database; it is given an ArtifactInfo.
"""
from __future__ import annotations

import csv
import io
import re

from workbench.errors import WorkbenchError
from workbench.synthesis.citations import Citation, annotate
from workbench.synthesis.facts import Facts, answer_part

NOTE_RE = re.compile(r"^\s*(?:[-*]\s*)?\[(\d{1,3}):([0-5]\d):([0-5]\d)\]\s*(.+)$", re.M)
CSV_RE = re.compile(r"```csv\s*\n(.*?)```", re.S)
NOTE_SECONDS = 4.0
EDL_FPS = 25


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


def _facts(artifact) -> Facts | None:
    return Facts.from_json((artifact.extra or {}).get("facts"))


def _answer(artifact) -> str:
    return answer_part(artifact.text, (artifact.extra or {}).get("facts"))


def shot_list_csv(artifact) -> str:
    """The answer's fenced CSV table (a shot list), else the computed facts' tables."""
    m = CSV_RE.search(_answer(artifact))
    facts = _facts(artifact)
    if m is None and facts is not None and facts.tables:
        return facts.to_csv()
    body = m.group(1) if m else _answer(artifact)
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


def markers(artifact) -> list[tuple[float, float, str]]:
    """(start, end, note): the answer's timecoded notes and the facts' cut points, in time
    order."""
    out = [(float(int(h) * 3600 + int(m) * 60 + int(s)),
            float(int(h) * 3600 + int(m) * 60 + int(s)) + NOTE_SECONDS, text.strip())
           for h, m, s, text in NOTE_RE.findall(_answer(artifact))]
    facts = _facts(artifact)
    if facts is not None:
        out += [(mk.start_s, max(mk.end_s, mk.start_s + 1.0), f"computed: {mk.note}")
                for mk in facts.markers]
    if not out:
        raise WorkbenchError("the answer has no notes that start with a [hh:mm:ss] timecode "
                             "and the facts suggest no cut points")
    return sorted(out)


def pacing_srt(artifact) -> str:
    return "\n".join(f"{i}\n{_srt_time(start)} --> {_srt_time(end)}\n{text}\n"
                     for i, (start, end, text) in enumerate(markers(artifact), 1))


def _edl_time(seconds: float) -> str:
    frames = int(round(seconds * EDL_FPS))
    s, f = divmod(frames, EDL_FPS)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{f:02d}"


def pacing_edl(artifact) -> str:
    lines = [f"TITLE: {artifact.title}", "FCM: NON-DROP FRAME", ""]
    for i, (start, end, text) in enumerate(markers(artifact), 1):
        tc = f"{_edl_time(start)} {_edl_time(end)}"
        lines += [f"{i:03d}  AX       V     C        {tc} {tc}",
                  f"* COMMENT: {' '.join(text.split())}", ""]
    return "\n".join(lines)


EXPORTS = {"md": markdown, "csv": shot_list_csv, "srt": pacing_srt, "edl": pacing_edl}


def export(artifact, fmt: str = "md") -> str:
    try:
        return EXPORTS[fmt](artifact)
    except KeyError:
        raise WorkbenchError(f"unknown export format {fmt!r}: choose md, csv, srt or edl") from None
