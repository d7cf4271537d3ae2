"""Fountain screenplays (https://fountain.io/syntax/).

Why this shape: the element grammar (headings incl. forced '.' and numbered '#12#', character
cues with extensions and '^', parentheticals, dialogue, transitions, lyrics, sections) comes
from screenplay-tools (wildwinter, MIT), the maintained parser behind the fountain-tools test
files. Three things it gets wrong for us are done here instead:
- the title page: it reads an indented continuation line containing a colon as a new key;
- notes [[...]] and boneyard /* */: removed before parsing (a note may not span a blank line,
  as the spec says), so they can never leak into the text;
- 'FADE IN:' is not a scene heading (it reports one), it is a transition.

Owns: Fountain text -> elements and title page. Does not know: scenes or stats (scenes.py).
"""
from __future__ import annotations

import re

from screenplay_tools.fountain.parser import Parser
from screenplay_tools.screenplay import ElementType

from workbench.errors import UnsupportedDocument
from workbench.importers.base import ParsedDocument
from workbench.importers.decoding import decode_text, head_text, looks_like_text
from workbench.importers.scenes import SCENE_HEADING, Element, assemble

SUFFIXES = (".fountain", ".spmd")

_BONEYARD = re.compile(r"/\*.*?\*/", re.DOTALL)
_NOTE = re.compile(r"\[\[(?:(?!\n\n).)*?\]\]", re.DOTALL)
_PARSER_TAGS = re.compile(r"\[\[\d+\]\]|/\*\d+\*/")  # where screenplay-tools cut a note out
_TITLE_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9 ]*?)\s*:\s*(.*?)\s*$")
_EMPHASIS = re.compile(r"(?<!\\)(\*{1,3})(?=\S)(.+?)(?<=\S)\1")
_CUE_LINE = re.compile(r"^[ \t]*@?[A-Z][A-Z0-9 ._'\-]*(?:\(.*\))?\s*\^?\s*$")


def sniff(data: bytes, filename: str) -> bool:
    if not looks_like_text(data):
        return False
    if filename.lower().endswith(SUFFIXES):
        return True
    lines = head_text(data).split("\n")
    headings = sum(1 for i, line in enumerate(lines)
                   if SCENE_HEADING.match(line.strip()) and (i == 0 or not lines[i - 1].strip()))
    cues = sum(1 for i, line in enumerate(lines[1:-1], 1)
               if not lines[i - 1].strip() and _CUE_LINE.match(line) and lines[i + 1].strip())
    return headings >= 1 and cues >= 1


def strip_notes(text: str) -> str:
    """Remove boneyard and [[notes]]; they are the writer's, not the screenplay's."""
    return _NOTE.sub("", _BONEYARD.sub("", text))


def split_title_page(text: str) -> tuple[dict[str, str], str]:
    """Title page keys (values joined by newlines) and the body that follows it."""
    lines = text.split("\n")
    if not lines or not _TITLE_KEY.match(lines[0]) or lines[0][:1].isspace():
        return {}, text
    meta: dict[str, str] = {}
    key = None
    i = 0
    while i < len(lines) and lines[i].strip():
        line = lines[i]
        m = _TITLE_KEY.match(line)
        if m and not line[:1].isspace():
            key = m.group(1).strip().title()
            meta[key] = m.group(2)
        elif key is not None:
            meta[key] = (meta[key] + "\n" + line.strip()).strip()
        else:
            return {}, text
        i += 1
    return meta, "\n".join(lines[i:])


def _plain(text: str) -> str:
    text = _PARSER_TAGS.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return _EMPHASIS.sub(r"\2", text).replace("\\*", "*")


def to_elements(body: str) -> tuple[list[Element], list[str]]:
    """Screenplay elements, plus the outline (sections and synopses, kept out of the text)."""
    parser = Parser()
    parser.add_text("\n" + body)  # the leading blank line ends its own title-page mode
    out: list[Element] = []
    outline: list[str] = []
    for el in parser.script.elements:
        kind = el.type
        text = _plain(el.text_raw).strip()
        if kind == ElementType.HEADING:
            if re.fullmatch(r"FADE IN:?", text, re.IGNORECASE):
                out.append(Element("transition", text))
            else:
                out.append(Element("heading", text, el.scene_number))
        elif kind == ElementType.CHARACTER:
            ext = f" ({el.extension})" if el.extension else ""
            out.append(Element("character", f"{el.name}{ext}"))
        elif kind in (ElementType.DIALOGUE, ElementType.PARENTHETICAL, ElementType.TRANSITION):
            out.append(Element(kind.value.lower(), text))
        elif kind == ElementType.LYRIC:
            in_dialogue = bool(out) and out[-1].type in ("character", "parenthetical", "dialogue")
            out.append(Element("dialogue" if in_dialogue else "action", text))
        elif kind == ElementType.ACTION:
            out.append(Element("action", text))
        elif kind in (ElementType.SECTION, ElementType.SYNOPSIS):
            outline.append(text)
    return out, outline


def parse(data: bytes, filename: str) -> ParsedDocument:
    text = decode_text(data, filename)
    meta, body = split_title_page(strip_notes(text))
    elements, outline = to_elements(body)
    readable, sections, stats = assemble(elements)
    if not sections:  # nothing to search or cite, even when a title page is there
        raise UnsupportedDocument(
            "This Fountain file has a title page but no screenplay text after it." if meta
            else "This Fountain file has no screenplay text in it.", filename)
    metadata: dict = {"title_page": meta}
    if outline:
        metadata["outline"] = outline
    title = _title(meta) or filename.rsplit(".", 1)[0]
    return ParsedDocument(title=title, kind="screenplay", format="fountain", text=readable,
                          sections=sections, stats=stats, metadata=metadata)


def _title(meta: dict[str, str]) -> str:
    raw = meta.get("Title", "")
    lines = [_plain(line).strip().strip('"').strip() for line in raw.split("\n")]
    return " ".join(line for line in lines if line)
