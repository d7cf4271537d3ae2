"""Computed facts: what Longhand counts from the stored structure of the documents, by code,
for every answer -- scene and character statistics, the draft alignment, pacing from
timecodes, a paper's outline. A small model's prose can be useless; these never are.

`facts_for(template, sources)` picks the template's module (one per template) and returns a
`Facts` (model.py: summary lines, tables, chart data, cut markers; Markdown, CSV and JSON).
`prepend` puts the facts' Markdown in front of the model's answer under
"## Facts (computed by Longhand)" (after a map-reduce note, which stays the first line),
moving the answer's citation positions along with it.
Every anchor in the facts is one the citation checker verifies.

Does not know the model, the database or the UI (workbench/ui/facts_views.py draws them).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from workbench.synthesis.facts import coverage, drafts, pacing, paper, shot_list
from workbench.synthesis.facts.model import (ANSWER_HEADING, HEADING, Chart, Facts, Marker,
                                             Table, tag)

__all__ = ["ANSWER_HEADING", "HEADING", "Chart", "Facts", "Marker", "Table", "answer_part",
           "facts_for", "facts_span", "prepend"]


def _documents(sources) -> Facts:
    facts = Facts("free")
    rows = []
    for src in sources:
        secs = sorted(src.sections, key=lambda s: s.ordinal)
        words = sum(len((s.text or "").split()) for s in secs)
        span = f"{tag(secs[0].anchor)} to {tag(secs[-1].anchor)}" if secs else "-"
        rows.append([src.title, src.kind, f"v{src.version}", len(secs), words, span])
    facts.summary.append(f"{len(rows)} documents, "
                         f"{sum(r[4] for r in rows)} words in all.")
    facts.tables.append(Table("documents", "Documents",
                              ["title", "kind", "version", "sections", "words", "anchors"],
                              rows))
    return facts


BUILDERS = {
    "coverage": coverage.build,
    "compare_drafts": drafts.build,
    "pacing": pacing.build,
    "paper_synthesis": paper.build,
    "shot_list": shot_list.build,
    "free": _documents,
}


def facts_for(template: str, sources: Sequence) -> Facts:
    """The facts of `template` over `sources` (runner Sources: title, kind, version,
    sections); a template without its own module gets the document table."""
    return BUILDERS.get(template, _documents)(list(sources))


def prepend(facts: Facts, text: str, citations: Sequence,
            at: int = 0) -> tuple[str, list, int]:
    """(the text with the facts inserted in front of the answer, which starts at `at` -- after
    a map-reduce note, which stays first --, the citations moved along, where the answer now
    starts)."""
    head = f"{facts.to_markdown()}\n{ANSWER_HEADING}\n\n"
    moved = [replace(c, start=c.start + len(head), end=c.end + len(head)) if c.start >= at
             else c for c in citations]
    return text[:at] + head + text[at:], moved, at + len(head)


def facts_span(facts_json: dict | None) -> tuple[int, int]:
    """Where the facts block (heading to the answer's heading) lies in the saved text; (0, 0)
    for an answer saved without facts."""
    end = (facts_json or {}).get("answer_start")
    if end is None:
        return 0, 0
    return (facts_json or {}).get("facts_start", 0), end


def answer_part(text: str, facts_json: dict | None) -> str:
    """The saved text without the facts block: the model's answer (after a map-reduce note,
    if there is one), for exports and views that read the answer, e.g. pacing notes."""
    start, end = facts_span(facts_json)
    return text[:start] + text[end:]
