"""SubRip (.srt) and WebVTT (.vtt) subtitles and interview captions.

Why our own parser: webvtt-py and srt are strict and reject what real files carry: a comma
where WebVTT wants a dot (or the reverse) in one timestamp, a missing WEBVTT line, a BOM,
CRLF. Both formats are "blocks separated by blank lines, a `-->` timing line, then text", so
one tolerant reader handles both. As the WebVTT spec says, a block without a timing line is
not a cue: it is skipped (and counted in metadata), NOTE/STYLE/REGION blocks are ignored.
Speakers come from WebVTT voice spans `<v Name>` or a leading upper-case `NAME:`.

Owns: cue timing and text. Does not know: transcripts written as plain text (text.py).
"""
from __future__ import annotations

import html
import re

from workbench.errors import UnsupportedDocument
from workbench.importers.base import ParsedDocument, Section, time_anchor
from workbench.importers.decoding import decode_text, head_text, looks_like_text

SUFFIXES = (".srt", ".vtt")

_TIME = r"(?:\d+:)?\d{1,2}:\d{1,2}(?:[.,]\d{1,3})?"
_TIMING = re.compile(rf"^\s*({_TIME})\s*-->\s*({_TIME})(.*)$")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")
_TAG = re.compile(r"</?[^>\n]*>|\{\\[^}]*\}")
_NAME = re.compile(r"^([A-Z][A-Z0-9.'\- ]{0,30}[A-Z0-9.]):\s+(?=\S)")
_SKIP_BLOCKS = ("NOTE", "STYLE", "REGION")


def sniff(data: bytes, filename: str) -> bool:
    if not looks_like_text(data):
        return False
    lines = head_text(data, 8192).split("\n")
    if lines and lines[0].startswith("WEBVTT"):
        return True
    return any(_TIMING.match(line) for line in lines[:40])


def seconds(stamp: str) -> float:
    """'01:02:03,500', '01:02:03.5', '02:03.500' -> seconds (comma and dot both accepted)."""
    clock, _, frac = stamp.replace(",", ".").partition(".")
    parts = [int(p) for p in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts
    return h * 3600 + m * 60 + s + (float("0." + frac) if frac else 0.0)


def _speaker_and_text(lines: list[str]) -> tuple[str | None, str]:
    raw = "\n".join(lines)
    speaker = None
    voice = _VOICE.search(raw)
    if voice:
        speaker = voice.group(1).strip()
    text = html.unescape(_TAG.sub("", raw)).strip()
    if speaker is None:
        named = _NAME.match(text)
        if named:
            speaker = named.group(1).strip()
            text = text[named.end():]
    return speaker or None, text


def cues(text: str) -> tuple[list[Section], int, bool]:
    """(cue sections, blocks skipped for lack of a timing line, has a WEBVTT header)."""
    blocks = [b for b in re.split(r"\n[ \t]*\n", text.strip("\n")) if b.strip()]
    has_header = bool(blocks) and blocks[0].lstrip().startswith("WEBVTT")
    if has_header:
        blocks = blocks[1:]
    out: list[Section] = []
    skipped = 0
    for block in blocks:
        lines = block.split("\n")
        if lines[0].strip().split(" ", 1)[0] in _SKIP_BLOCKS:
            continue
        at = next((i for i, line in enumerate(lines[:3]) if _TIMING.match(line)), None)
        if at is None:
            skipped += 1
            continue
        m = _TIMING.match(lines[at])
        start, end = seconds(m.group(1)), seconds(m.group(2))
        speaker, body = _speaker_and_text(lines[at + 1:])
        out.append(Section(kind="cue", anchor=time_anchor(start), ordinal=len(out), text=body,
                           start_s=start, end_s=max(start, end), speaker=speaker,
                           meta={"id": lines[0].strip()} if at else {}))
    return out, skipped, has_header


def stats_for(sections: list[Section], text: str) -> dict:
    if sections:
        first = min(s.start_s for s in sections)
        last = max(s.end_s if s.end_s is not None else s.start_s for s in sections)
        duration = round(last - first, 3)
    else:
        duration = 0.0
    return {"cues": len(sections), "duration_s": duration,
            "speakers": sorted({s.speaker for s in sections if s.speaker}),
            "words": len(text.split())}


def render(sections: list[Section]) -> str:
    return "\n".join(f"{s.speaker}: {s.text}" if s.speaker else s.text
                     for s in sections if s.text)


def parse(data: bytes, filename: str) -> ParsedDocument:
    text = decode_text(data, filename)
    sections, skipped, has_header = cues(text)
    if not sections:
        raise UnsupportedDocument(
            "No subtitle cues were found: a subtitle file needs timing lines such as "
            "'00:00:01,000 --> 00:00:04,000'.", filename)
    fmt = "vtt" if has_header or filename.lower().endswith(".vtt") else "srt"
    readable = render(sections)
    metadata = {"skipped_blocks": skipped} if skipped else {}
    return ParsedDocument(title=filename.rsplit(".", 1)[0], kind="transcript", format=fmt,
                          text=readable, sections=sections,
                          stats=stats_for(sections, readable), metadata=metadata)
