"""Scoring answers to needle questions: the fact, and the anchor cited for it.

Two checks per needle. `found`: the answer contains the needle's answer words in order, with
only punctuation or spaces between them, ignoring case, accents written as compatibility forms
and curly quotes ("October 5, 1820" matches "october 5 1820"; "5 October 1820" does not: the
check is exact, not semantic). `cited`, the stricter one: the fact was found and the anchor
cited nearest to it is the needle's host section's anchor. Anchors are parsed by the synthesis
citation checker, so a trust score and a synthesis citation mean the same thing.

Does not know models or prompts; it is given answers and placements.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from workbench.synthesis.citations import find_mentions
from workbench.trust.haystack import Placement

WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class NeedleScore:
    key: str
    expected: str
    anchor: str
    found: bool
    cited: bool
    cited_anchor: str | None  # the anchor cited nearest to the fact, if any

    def as_dict(self) -> dict:
        return {"key": self.key, "expected": self.expected, "anchor": self.anchor,
                "found": self.found, "cited": self.cited, "cited_anchor": self.cited_anchor}


def clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")


def fact_pattern(fact: str) -> re.Pattern:
    words = WORD_RE.findall(clean(fact))
    if not words:
        raise ValueError("a needle's answer needs at least one word")
    body = r"\W+".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def fact_spans(answer: str, fact: str) -> list[tuple[int, int]]:
    return [m.span() for m in fact_pattern(fact).finditer(clean(answer))]


def _gap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, max(a[0], b[0]) - min(a[1], b[1]))


def score_needle(answer: str, placement: Placement) -> NeedleScore:
    needle = placement.needle
    text = clean(answer)
    spans = fact_spans(text, needle.answer)
    mentions = find_mentions(text)
    nearest = None
    for span in spans:
        for m in mentions:
            rank = (_gap(span, (m.start, m.end)), m.start < span[0])
            if nearest is None or rank < nearest[0]:
                nearest = (rank, m.anchor)
    cited_anchor = nearest[1] if nearest else None
    cited = bool(spans) and cited_anchor is not None \
        and cited_anchor.casefold() == placement.anchor.casefold()
    return NeedleScore(needle.key, needle.answer, placement.anchor, bool(spans), cited,
                       cited_anchor)


def score_answer(answer: str, placements: Sequence[Placement]) -> list[NeedleScore]:
    """One score per needle asked in the prompt that produced `answer`."""
    return [score_needle(answer, p) for p in placements]


def accuracy(scores: Sequence[NeedleScore]) -> tuple[float, float]:
    """(share of facts found, share found and cited right); (0, 0) when there is nothing."""
    if not scores:
        return 0.0, 0.0
    n = len(scores)
    return sum(s.found for s in scores) / n, sum(s.cited for s in scores) / n
