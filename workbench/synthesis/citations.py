"""Citation checking: find the anchors an answer cites and check each against the stored text.

A citation is verified when its anchor exists in one of the job's documents and, if a quoted
span sits next to it, that span occurs in the cited section's text (case, whitespace, curly
quotes and "..." elisions forgiven). A timecode that falls inside a cue (not on its first
second) resolves to that cue. Everything else is kept and marked unverified with a reason;
nothing is dropped.

Does not know the model or the database: it is given the sections as library SectionInfo.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Mapping, Sequence

from workbench.importers.base import time_anchor

ANCHOR_RE = re.compile(
    r"(?P<scene>\b(?:Sc\.|Scene)\s*(?P<sn>\d+[A-Za-z]?(?:-[A-Za-z0-9]+)?)\b)"
    r"|(?P<time>(?<![\d:])(?P<h>\d{1,3}):(?P<m>[0-5]\d):(?P<s>[0-5]\d)(?![\d:]))"
    r"|(?P<page>(?<![A-Za-z])(?:p\.|page)\s*(?P<pn>\d+)\b)"
    r"|(?P<para>¶\s*(?P<qn>\d+)\b)",
    re.IGNORECASE,
)
QUOTE_RE = re.compile(r"\"([^\"\n]{3,400})\"|“([^”\n]{3,400})”")
QUOTE_REACH = 120  # characters between a quote and the anchor it belongs to
ELLIPSIS_RE = re.compile(r"\s*(?:\.\.\.|…)\s*")


@dataclass(frozen=True)
class Citation:
    anchor: str
    document_id: int | None
    verified: bool
    section_id: int | None = None
    quote: str | None = None
    reason: str = ""  # why it is unverified, or how it resolved
    start: int = 0  # position of the anchor in the answer (matched: of the sentence)
    end: int = 0
    origin: str = "model"  # "model": the answer cites it; "matched": found for a sentence
    sentence: str | None = None  # the answer sentence it belongs to

    def as_json(self) -> dict:
        return {"anchor": self.anchor, "document_id": self.document_id,
                "verified": self.verified, "origin": self.origin, "sentence": self.sentence}

    def as_record(self) -> dict:
        """Everything, as stored with an artifact."""
        return {**self.as_json(), "section_id": self.section_id, "quote": self.quote,
                "reason": self.reason, "start": self.start, "end": self.end}

    @classmethod
    def from_record(cls, c: dict) -> "Citation":
        """A citation from `as_record()` (older artifacts lack origin and sentence)."""
        return cls(c["anchor"], c["document_id"], c["verified"], c.get("section_id"),
                   c.get("quote"), c.get("reason", ""), c.get("start", 0), c.get("end", 0),
                   c.get("origin") or "model", c.get("sentence"))


@dataclass(frozen=True)
class Mention:
    anchor: str
    start: int
    end: int
    quote: str | None = None
    seconds: int | None = None


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    text = (text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
            .replace("—", "-").replace("–", "-"))
    return re.sub(r"\s+", " ", text).strip().casefold()


def quote_in(quote: str, text: str) -> bool:
    """Whether every elided part of `quote` occurs in `text`, in order."""
    haystack, pos = normalize(text), 0
    for part in ELLIPSIS_RE.split(quote):
        part = normalize(part).strip(" .,;:!?'\"")
        if not part:
            continue
        found = haystack.find(part, pos)
        if found < 0:
            return False
        pos = found + len(part)
    return True


def find_mentions(answer: str) -> list[Mention]:
    """Anchors in the answer, each with the quoted span that belongs to it, if any: the nearest
    quote after the anchor on its line, else the nearest one before it."""
    mentions = []
    for m in ANCHOR_RE.finditer(answer):
        if m.group("scene"):
            anchor, secs = f"Sc. {m.group('sn').upper()}", None
        elif m.group("time"):
            secs = int(m.group("h")) * 3600 + int(m.group("m")) * 60 + int(m.group("s"))
            anchor = time_anchor(secs)
        elif m.group("page"):
            anchor, secs = f"p. {int(m.group('pn'))}", None
        else:
            anchor, secs = f"¶ {int(m.group('qn'))}", None
        mentions.append(Mention(anchor, m.start(), m.end(), seconds=secs))
    quotes = [(q.start(), q.end(), q.group(1) or q.group(2)) for q in QUOTE_RE.finditer(answer)]
    owner: dict[int, tuple[int, str]] = {}
    for qs, qe, text in quotes:
        best = None
        for i, mt in enumerate(mentions):
            if "\n" in answer[min(qe, mt.start):max(qs, mt.end)]:
                continue
            after = mt.start >= qe  # the contract puts the anchor first: [Sc. 3] "words"
            gap = mt.start - qe if after else qs - mt.end
            rank = (after, gap)
            if 0 <= gap <= QUOTE_REACH and (best is None or rank < best[0]):
                best = (rank, i)
        if best is not None and (best[1] not in owner or best[0] < owner[best[1]][0]):
            owner[best[1]] = (best[0], text)
    return [Mention(mt.anchor, mt.start, mt.end, owner[i][1], mt.seconds) if i in owner else mt
            for i, mt in enumerate(mentions)]


def _candidates(mention: Mention, sections: Mapping[int, Sequence]) -> tuple[list, str]:
    # "07:45:14" also names "07:45:14 (2)": the importers number repeats of an anchor
    twin = mention.anchor + " ("
    exact = [(d, s) for d, secs in sections.items() for s in secs
             if s.anchor == mention.anchor or s.anchor.startswith(twin)]
    if exact or mention.seconds is None:
        return exact, ""
    inside = []
    for d, secs in sections.items():
        cues = sorted((s for s in secs if s.start_s is not None), key=lambda s: s.start_s)
        for i, s in enumerate(cues):
            end = s.end_s if s.end_s is not None else (
                cues[i + 1].start_s if i + 1 < len(cues) else s.start_s)
            if s.start_s <= mention.seconds <= end:
                inside.append((d, s))
    return inside, "inside cue " + inside[0][1].anchor if inside else ""


def check(answer: str, sections: Mapping[int, Sequence]) -> list[Citation]:
    """Every anchor mention in `answer`, verified against `sections` {document_id: [Section]}."""
    out = []
    for mt in find_mentions(answer):
        found, how = _candidates(mt, sections)
        if not found:
            out.append(Citation(mt.anchor, None, False, quote=mt.quote, start=mt.start,
                                end=mt.end, reason=f"{mt.anchor} is not in the documents"))
            continue
        if mt.quote is None:
            d, s = found[0]
            out.append(Citation(mt.anchor, d, True, s.id, None, how, mt.start, mt.end))
            continue
        hit = next(((d, s) for d, s in found
                    if quote_in(mt.quote, s.text) or quote_in(mt.quote, s.heading or "")), None)
        if hit is not None:
            d, s = hit
            out.append(Citation(mt.anchor, d, True, s.id, mt.quote, how, mt.start, mt.end))
            continue
        elsewhere = [s.anchor for secs in sections.values() for s in secs
                     if quote_in(mt.quote, s.text)]
        reason = f'the quote "{mt.quote}" is not in {mt.anchor}'
        if elsewhere:
            reason += f" (it is in {elsewhere[0]})"
        d, s = found[0]
        out.append(Citation(mt.anchor, d, False, s.id, mt.quote, reason, mt.start, mt.end))
    return out


def unique(citations: Sequence[Citation]) -> list[Citation]:
    """One citation per (anchor, document, quote), keeping the first; unverified ones win.
    Matched passages are kept per sentence, apart from the model's citations."""
    seen: dict[tuple, Citation] = {}
    for c in citations:
        key = (c.anchor, c.document_id, c.quote, c.origin,
               c.sentence if c.origin == "matched" else None)
        if key not in seen or (seen[key].verified and not c.verified):
            seen[key] = c
    return sorted(seen.values(), key=lambda c: c.start)


def annotate(answer: str, citations: Sequence[Citation], link=None) -> str:
    """The answer with unverified anchors marked and, if `link(citation)` is given, verified
    anchors turned into Markdown links to the source passage."""
    out, pos = [], 0
    for c in sorted(citations, key=lambda c: c.start):
        if c.start < pos or c.origin != "model":  # matched ones mark no text of the answer
            continue
        out.append(answer[pos:c.start])
        written = answer[c.start:c.end]
        if not c.verified:
            out.append(f"{written} (unverified: {c.reason})")
        elif link is not None:
            out.append(f"[{written}]({link(c)})")
        else:
            out.append(written)
        pos = c.end
    out.append(answer[pos:])
    return "".join(out)
