"""Screenplay structure shared by the Fountain, FDX, PDF and DOCX importers.

Why: every screenplay format ends up as the same list of elements (scene heading, action,
character, parenthetical, dialogue, transition); turning that list into scene sections, the
character list and the stats is done once, here, so "Sc. 12" and the character set mean the
same thing whatever the file was written in.

Owns: `Element`, character-name normalisation, the scene-heading pattern, the line classifier
for screenplays that arrive as plain lines (PDF, DOCX), and `assemble` -> text, sections, stats.
Does not know: how any file format is read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.importers.base import Section, paragraph_anchor, scene_anchor

# Fountain spec: INT, EXT, EST, INT./EXT, INT/EXT, I/E followed by '.' or a space.
SCENE_HEADING = re.compile(r"^(?:INT\.?/EXT|INT|EXT|EST|I/E)[.\s]", re.IGNORECASE)
_SCENE_NUMBER = re.compile(r"\s*#([A-Za-z0-9.\-]+)#\s*$")
_EXTENSION = re.compile(r"\s*\([^)]*\)")
_TRANSITION = re.compile(r"^[A-Z\s]+(?:TO|OUT|IN):$|^FADE (?:IN|OUT)[.:]?$")
_CUE = re.compile(r"^[A-Z][^a-z]*$")
_MARGIN_NUMBERS = re.compile(r"^(\d+[A-Z]?)\s+(.*?)(?:\s+\1)?$")


@dataclass
class Element:
    type: str  # "heading" | "action" | "character" | "parenthetical" | "dialogue" | "transition"
    text: str
    number: str | None = None  # written scene number, headings only


def normalise_character(name: str) -> str:
    """'MARY (V.O.) (CONT'D) ^' -> 'MARY': extensions, dual-dialogue caret and '@' removed."""
    name = name.strip().lstrip("@").rstrip("^").strip()
    name = _EXTENSION.sub("", name)
    return " ".join(name.split())


def split_scene_number(heading: str) -> tuple[str, str | None]:
    """'INT. HOUSE - DAY #12A#' -> ('INT. HOUSE - DAY', '12A')."""
    m = _SCENE_NUMBER.search(heading)
    if not m:
        return heading.strip(), None
    return heading[: m.start()].strip(), m.group(1)


def classify_lines(lines: list[str]) -> list[Element]:
    """Screenplay elements from plain lines (PDF text, Word paragraphs).

    Layout is lost in both, so this uses the conventions a reader uses: headings start with
    INT./EXT., a character cue is an upper-case line (optionally with an extension) directly
    followed by text, parentheticals sit inside dialogue, and dialogue runs to a blank line.
    """
    out: list[Element] = []
    in_dialogue = False
    stripped = [line.strip() for line in lines]
    for i, line in enumerate(stripped):
        if not line:
            in_dialogue = False
            continue
        nxt = stripped[i + 1] if i + 1 < len(stripped) else ""
        heading = parse_heading(line)
        if heading:
            out.append(heading)
            in_dialogue = False
        elif _TRANSITION.match(line):
            out.append(Element("transition", line))
            in_dialogue = False
        elif _is_cue(line) and nxt and not parse_heading(nxt):
            out.append(Element("character", line))
            in_dialogue = True
        elif in_dialogue and line.startswith("(") and line.endswith(")"):
            out.append(Element("parenthetical", line[1:-1].strip()))
        elif in_dialogue:
            if out and out[-1].type == "dialogue":
                out[-1].text += "\n" + line
            else:
                out.append(Element("dialogue", line))
        elif out and out[-1].type == "action":
            out[-1].text += "\n" + line
        else:
            out.append(Element("action", line))
    return out


def _is_cue(line: str) -> bool:
    name = normalise_character(line)
    return (bool(_CUE.match(line)) and 0 < len(name) <= 40 and any(c.isalpha() for c in name)
            and not name.endswith((".", "!", "?", ",")) and len(name.split()) <= 5)


def parse_heading(line: str) -> Element | None:
    """A scene heading line; shooting scripts print the number in both margins:
    '12 INT. HOUSE - DAY 12'."""
    m = _MARGIN_NUMBERS.match(line)
    if m and SCENE_HEADING.match(m.group(2)):
        return Element("heading", m.group(2).strip(), m.group(1))
    if SCENE_HEADING.match(line):
        text, number = split_scene_number(line)
        return Element("heading", text, number)
    return None


def _render(el: Element) -> str:
    if el.type == "parenthetical":
        return f"({el.text})"
    return el.text


def assemble(elements: list[Element]) -> tuple[str, list[Section], dict]:
    """Group elements into scene sections; return (readable text, sections, stats)."""
    sections: list[Section] = []
    characters: set[str] = set()
    dialogue_blocks = 0
    blocks: list[list[Element]] = [[]]
    for el in elements:
        if el.type == "heading":
            blocks.append([el])
        else:
            blocks[-1].append(el)
    texts: list[str] = []
    scene_seq = 0
    for block in blocks:
        if not block:
            continue
        body = _render_block(block)
        names = {normalise_character(e.text) for e in block if e.type == "character"}
        names.discard("")
        characters |= names
        dialogue_blocks += sum(1 for e in block if e.type == "character")
        if not body.strip():
            continue
        texts.append(body)
        head = block[0]
        if head.type == "heading":
            scene_seq += 1
            number = head.number or str(scene_seq)
            sections.append(Section(kind="scene", anchor=scene_anchor(number),
                                    ordinal=len(sections), text=body, heading=head.text,
                                    number=number, meta={"characters": sorted(names)}))
        else:
            sections.append(Section(kind="paragraph", anchor=paragraph_anchor(1),
                                    ordinal=len(sections), text=body,
                                    meta={"characters": sorted(names)}))
    text = "\n\n".join(texts)
    stats = {"scenes": scene_seq, "characters": sorted(characters),
             "dialogue_blocks": dialogue_blocks, "words": len(text.split())}
    return text, sections, stats


def _render_block(block: list[Element]) -> str:
    parts: list[str] = []
    for el in block:
        rendered = _render(el).strip()
        if not rendered:
            continue
        # Character, parenthetical and dialogue read as one block, as on the page.
        if el.type in ("parenthetical", "dialogue") and parts:
            parts[-1] += "\n" + rendered
        else:
            parts.append(rendered)
    return "\n\n".join(parts)
