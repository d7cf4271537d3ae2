"""What a screenplay's stored scenes say without a model: heading parts (INT/EXT, location,
time of day), who speaks how often in each scene, words, and an estimated page count.

Why here and not in the importer: the importers store each scene's text as the page reads
(a cue line, then its parenthetical and dialogue, blocks separated by blank lines) and the
scene's characters in `meta["characters"]`; counting dialogue blocks per character from that
text works for every format already imported, with no re-import.

Page estimate: the usual layout rule of about 55 lines a page, action wrapped at 60 and
dialogue at 35 characters; one page runs about a minute on screen. It is labelled an estimate
wherever it is shown.

Does not know anchors' syntax or templates (the per-template modules use these helpers).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from workbench.importers.scenes import normalise_character

_HEADING = re.compile(r"^\s*(INT\.?\s*/\s*EXT|EXT\.?\s*/\s*INT|I/E|INT|EXT|EST)\.?\s*(.*)$",
                      re.IGNORECASE)
_TIME_SPLIT = re.compile(r"\s*(?:--+|—|–|\s-\s)\s*")
TIMES = ("DAY", "NIGHT", "MORNING", "AFTERNOON", "EVENING", "DUSK", "DAWN", "SUNSET",
         "SUNRISE", "CONTINUOUS", "LATER", "MOMENTS LATER", "SAME", "SAME TIME", "NOON",
         "MIDNIGHT")
LINES_PER_PAGE = 55
ACTION_WIDTH, DIALOGUE_WIDTH = 60, 35


@dataclass
class Scene:
    anchor: str
    heading: str
    int_ext: str  # "INT" | "EXT" | "INT/EXT" | "EST" | ""
    location: str
    time: str
    characters: list[str]
    blocks: Counter = field(default_factory=Counter)  # character -> dialogue blocks
    lines: dict = field(default_factory=dict)  # character -> [dialogue text, ...]
    words: int = 0
    layout_lines: int = 0
    section: object = None


def split_heading(heading: str) -> tuple[str, str, str]:
    """'EXT. PARK--DAY' -> ('EXT', 'PARK', 'DAY'); unknown parts come back empty."""
    m = _HEADING.match(heading or "")
    if not m:
        return "", (heading or "").strip(), ""
    kind = re.sub(r"[.\s]", "", m.group(1).upper())
    kind = {"I/E": "INT/EXT", "EXT/INT": "INT/EXT"}.get(kind, kind)
    rest = m.group(2).strip()
    parts = _TIME_SPLIT.split(rest)
    time = ""
    if len(parts) > 1 and parts[-1].strip().upper().rstrip(".") in TIMES:
        time = parts[-1].strip().upper().rstrip(".")
        rest = " - ".join(p for p in parts[:-1] if p)
    return kind, rest.strip(" -"), time


def _dialogue(text: str, names: set[str]) -> tuple[Counter, dict, int]:
    blocks, lines, layout = Counter(), {}, 0
    for block in re.split(r"\n\s*\n", text or ""):
        rows = [r.strip() for r in block.strip().split("\n") if r.strip()]
        if not rows:
            continue
        who = normalise_character(rows[0])
        if who in names and len(rows) > 1:
            blocks[who] += 1
            spoken = [r for r in rows[1:] if not (r.startswith("(") and r.endswith(")"))]
            lines.setdefault(who, []).append(" ".join(spoken))
            layout += 1 + sum(math.ceil(len(r) / DIALOGUE_WIDTH) for r in rows[1:])
        else:
            layout += sum(max(1, math.ceil(len(r) / ACTION_WIDTH)) for r in rows)
        layout += 1  # the blank line between blocks
    return blocks, lines, layout


def scenes_of(sections) -> list[Scene]:
    """The scene sections, in order, read into Scene rows."""
    out = []
    for s in sorted(sections, key=lambda s: s.ordinal):
        if s.kind != "scene":
            continue
        names = set((s.meta or {}).get("characters") or [])
        blocks, lines, layout = _dialogue(s.text, names)
        kind, location, time = split_heading(s.heading or "")
        out.append(Scene(s.anchor, (s.heading or "").strip(), kind, location, time,
                         sorted(names), blocks, lines, len((s.text or "").split()), layout, s))
    return out


def estimated_pages(sections) -> float:
    """Pages the whole script would fill in standard layout (scenes and the text before them)."""
    total = 0
    for s in sections:
        names = set((s.meta or {}).get("characters") or [])
        total += _dialogue(s.text, names)[2]
    return total / LINES_PER_PAGE
