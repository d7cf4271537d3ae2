"""What every importer returns, and the anchor formats citations rely on.

Anchors are the user-visible handles that answers cite and the citation checker resolves:
scene "Sc. 12", transcript cue "01:12:04" (start time, hh:mm:ss), page "p. 7", paragraph "¶ 3".
"""
from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("screenplay", "transcript", "paper", "notes", "prose")
ROLES = ("draft", "notes", "reference", "style")


def scene_anchor(number: str | int) -> str:
    return f"Sc. {number}"


def time_anchor(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def unique_anchors(sections: list["Section"]) -> list["Section"]:
    """Make every anchor in a document unique, in place, deterministically: the first section
    keeps an anchor as it is, the n-th later one with the same anchor becomes "ANCHOR (n)"
    ("00:12:04", "00:12:04 (2)", "00:12:04 (3)"; "Sc. 2", "Sc. 2 (2)"). Two utterances under
    one transcript stamp, two subtitles starting in the same second or a scene number written
    twice would otherwise share a handle that a citation cannot tell apart."""
    taken = {s.anchor for s in sections}
    seen: dict[str, int] = {}
    for section in sections:
        count = seen.get(section.anchor, 0) + 1
        seen[section.anchor] = count
        if count == 1:
            continue
        candidate = f"{section.anchor} ({count})"
        while candidate in taken:
            count += 1
            candidate = f"{section.anchor} ({count})"
        taken.add(candidate)
        section.anchor = candidate
    return sections


def page_anchor(page: int) -> str:
    return f"p. {page}"


def paragraph_anchor(n: int) -> str:
    return f"¶ {n}"


@dataclass
class Section:
    kind: str  # "scene" | "cue" | "page" | "paragraph"
    anchor: str
    ordinal: int  # 0-based position in the document
    text: str
    heading: str | None = None  # scene heading, e.g. "INT. KITCHEN - NIGHT"
    number: str | None = None  # scene number as written ("12", "12A") or sequential
    start_s: float | None = None
    end_s: float | None = None
    speaker: str | None = None
    page: int | None = None
    meta: dict = field(default_factory=dict)  # e.g. characters in a scene


@dataclass
class ParsedDocument:
    title: str
    kind: str  # one of KINDS
    format: str  # "fountain" | "fdx" | "pdf" | "srt" | "vtt" | "text" | "markdown" | "docx"
    text: str  # the readable text (boneyard and notes excluded)
    sections: list[Section]
    stats: dict  # scenes, characters (sorted), dialogue_blocks, pages, cues, duration_s, speakers, words
    metadata: dict = field(default_factory=dict)  # e.g. the Fountain title page
