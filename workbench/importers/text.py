"""Plain text and Markdown: notes, prose, and transcripts typed as `SPEAKER: text`.

Why one module: all three arrive as .txt (or no extension at all, like the Spacelog NASA logs)
and differ only in their lines. A file is a transcript when most of its paragraphs open with a
speaker label (`CDR:`, `Interviewer:`), optionally after a timestamp `[hh:mm:ss]` or, as in
Spacelog, `[DD:HH:MM:SS]` on its own line; `_page :`/`_tape :`/`_extra :` metadata lines are
skipped and Spacelog's `[glossary:TERM]` markup is reduced to its text. Anything else is
paragraphs. Labels are call signs in capitals with digits, `_ - ? . / ( )` and up to four
words (`CC_A1`, `CC_HAW`, `CC_?`, `CV-39`, `CDR (EVA)`, `PATRON ONE`), a lone `?` (an
unidentified voice), or up to three capitalised words (`Jane Doe`, `FlagPlot`). A line without
a label continues the cue before it, unless a new timestamp came in between: then it is a cue
of its own at that time, never glued to the previous speaker.
A cue without a timestamp is cited by paragraph (`¶ N`); one with a timestamp by its time, a
second utterance under the same stamp as "00:12:04 (2)" (base.unique_anchors).

Owns: transcript detection and cues, paragraphs. Does not know: subtitle timing lines
(subtitles.py) or screenplay structure (fountain.py, which is sniffed before this module).
"""
from __future__ import annotations

import re

from workbench.errors import UnsupportedDocument
from workbench.importers.base import (ParsedDocument, Section, paragraph_anchor, time_anchor,
                                      unique_anchors)
from workbench.importers.decoding import decode_text, looks_like_text

SUFFIXES = (".txt", ".text", ".md", ".markdown")
_MARKDOWN_SUFFIXES = (".md", ".markdown")

_STAMP = re.compile(r"^\[(-?)(\d{1,3}(?::\d{1,2}){2,3}(?:\.\d+)?)\]\s*(.*)$")
# A label is an upper-case call sign (CDR, CC_A1, CC_HAW, CC_?, CV-39, CDR (EVA), PATRON ONE),
# a lone '?' (an unidentified voice), or up to three capitalised words (Jane Doe, FlagPlot).
# '?' only in call signs: 'Why?: ...' in notes is not a speaker.
_SPEAKER = re.compile(
    r"^([A-Z?][A-Z0-9_?./()'&\-]*(?: [A-Z0-9(?][A-Za-z0-9_?./()'&\-]*){0,3}"
    r"|[A-Z][a-z][\w.'\-]*(?: [A-Z][\w.'\-]*){0,2})\s*:\s+(\S.*)$")
_META = re.compile(r"^_\w+\s*:")
_MARKUP = re.compile(r"\[(?:glossary|time):([^\]|]+)(?:\|([^\]]+))?\]")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
PROSE_WORDS = 5000  # below this a text is kept as notes


def sniff(data: bytes, filename: str) -> bool:
    return looks_like_text(data)


def stamp_seconds(sign: str, stamp: str) -> float:
    """'01:02:03' (hh:mm:ss) or '01:02:03:04' (DD:HH:MM:SS) -> seconds; sign '-' negates."""
    clock, _, frac = stamp.partition(".")
    parts = [int(p) for p in clock.split(":")]
    if len(parts) == 4:
        parts = [parts[0] * 24 + parts[1], parts[2], parts[3]]
    h, m, s = parts
    value = h * 3600 + m * 60 + s + (float("0." + frac) if frac else 0.0)
    return -value if sign else value


def signed_time_anchor(seconds: float) -> str:
    return "-" + time_anchor(-seconds) if seconds < 0 else time_anchor(seconds)


def is_transcript(text: str) -> bool:
    starts = speakers = 0
    previous_blank = True
    for line in text[:200_000].split("\n"):
        line = line.strip()
        if not line or _META.match(line):
            previous_blank = True
            continue
        stamp = _STAMP.match(line)
        if stamp:
            previous_blank = True
            line = stamp.group(3)
            if not line:
                continue
        if previous_blank or _SPEAKER.match(line):
            starts += 1
            speakers += bool(_SPEAKER.match(line))
        previous_blank = False
    return speakers >= 3 and speakers >= 0.6 * starts


def transcript_cues(text: str) -> list[Section]:
    """One cue per labelled line; an unlabelled line continues the cue before it, unless a
    new timestamp came in between (then it is a cue of its own, without a speaker, at that
    time). Anchors are the start time (¶ N when untimed), made unique per document."""
    cues: list[Section] = []
    start: float | None = None
    fresh_stamp = False  # a timestamp was read and no cue has taken it yet
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or _META.match(line):
            continue
        stamp = _STAMP.match(line)
        if stamp:
            start = stamp_seconds(stamp.group(1), stamp.group(2))
            fresh_stamp = True
            line = stamp.group(3)
            if not line:
                continue
        said = _SPEAKER.match(line)
        if said:
            cues.append(Section(kind="cue", anchor="", ordinal=len(cues),
                                text=_MARKUP.sub(_unmark, said.group(2)).strip(),
                                start_s=start, speaker=said.group(1).strip()))
        elif cues and not fresh_stamp:
            cues[-1].text += " " + _MARKUP.sub(_unmark, line)
        else:
            cues.append(Section(kind="cue", anchor="", ordinal=len(cues),
                                text=_MARKUP.sub(_unmark, line), start_s=start))
        fresh_stamp = False
    for i, cue in enumerate(cues):
        later = cues[i + 1].start_s if i + 1 < len(cues) else None
        if cue.start_s is None:
            cue.anchor = paragraph_anchor(i + 1)
            continue
        cue.anchor = signed_time_anchor(cue.start_s)
        cue.end_s = later if later is not None and later >= cue.start_s else cue.start_s
    return unique_anchors(cues)


def _unmark(m: re.Match) -> str:
    return m.group(2) or m.group(1)


def paragraphs(text: str, markdown: bool) -> list[Section]:
    out: list[Section] = []
    heading = None
    for block in re.split(r"\n[ \t]*\n", text):
        block = block.strip("\n")
        if not block.strip():
            continue
        if markdown:
            m = _MD_HEADING.match(block.split("\n", 1)[0])
            if m:
                heading = m.group(1)
        out.append(Section(kind="paragraph", anchor=paragraph_anchor(len(out) + 1),
                           ordinal=len(out), text=block, heading=heading))
    return out


def _transcript(text: str, filename: str) -> ParsedDocument:
    cues = transcript_cues(text)
    lines = [f"{c.speaker}: {c.text}" if c.speaker else c.text for c in cues]
    rendered = "\n".join(lines)
    timed = [c for c in cues if c.start_s is not None]
    stats: dict = {"cues": len(cues),
                   "speakers": sorted({c.speaker for c in cues if c.speaker}),
                   "words": _words(lines)}
    if timed:
        stats["duration_s"] = round(max(c.end_s for c in timed) - min(c.start_s for c in timed), 3)
    return ParsedDocument(title=_stem(filename), kind="transcript", format="text",
                          text=rendered, sections=cues, stats=stats)


def _words(pieces) -> int:
    """Words of the pieces joined by whitespace, without a list of every word of a long file."""
    return sum(len(piece.split()) for piece in pieces)


def _stem(filename: str) -> str:
    return filename.rsplit(".", 1)[0] if "." in filename.strip(".") else filename


def parse(data: bytes, filename: str) -> ParsedDocument:
    text = decode_text(data, filename)
    if is_transcript(text):
        return _transcript(text, filename)
    markdown = filename.lower().endswith(_MARKDOWN_SUFFIXES)
    sections = paragraphs(text, markdown)
    if not sections:
        raise UnsupportedDocument("The file contains no text.", filename)
    body = "\n\n".join(s.text for s in sections)
    words = _words(s.text for s in sections)
    title = _stem(filename)
    if markdown:
        first = next((s.heading for s in sections if s.heading), None)
        title = first or title
    return ParsedDocument(title=title, kind="prose" if words >= PROSE_WORDS else "notes",
                          format="markdown" if markdown else "text", text=body,
                          sections=sections, stats={"words": words})
