"""PDF: papers, reports and screenplays exported to PDF (pypdf).

Why: a PDF carries no structure a writer would cite except its pages, so every document keeps
"p. N" anchors; a screenplay PDF (scene headings at line starts, character cues) is recognised
and split into scenes that also remember their page. pypdf reads leniently (strict=False) so
a broken xref table is repaired, as Acrobat would; the repair is noted in metadata.

Refused with a clear message: not a PDF, damaged beyond repair, password-protected (an empty
user password, as owner-restricted files have, is tried first), and scans with no text layer
or a text layer of OCR noise: importing those would store nothing searchable.

Owns: PDF -> pages, title, screenplay split. Does not know: OCR (we do none).
"""
from __future__ import annotations

import io
import logging
import re
from contextlib import contextmanager

from workbench.errors import UnsupportedDocument
from workbench.importers.base import ParsedDocument, Section, page_anchor
from workbench.importers.scenes import assemble, classify_lines, parse_heading

SUFFIXES = (".pdf",)

_WORD = re.compile(r"[^\W\d_]{2,}")
# A token a reader would recognise: a word (with hyphen/apostrophe parts) or a number,
# optionally wrapped in quotes/brackets/punctuation. OCR noise (":.,", "srN", "»") is not.
_READABLE = re.compile(r"^[\"'(\[]*(?:[^\W\d_]{2,}(?:[-'’][^\W\d_]+)*|\d+(?:[.,:/]\d+)*)"
                       r"[\"')\].,;:!?]*$")
_PAGE_NOISE = re.compile(r"^(?:\d+\.?|\(?CONTINUED\)?:?|\(MORE\)|CONT(?:INUED|'D)\.?)$")
_BAD_TITLES = re.compile(r"^(?:title|untitled|binder\d*|microsoft word - .*|.*\.\w{2,4})$",
                         re.IGNORECASE)


def sniff(data: bytes, filename: str) -> bool:
    return b"%PDF-" in data[:1024]


@contextmanager
def _recovery_log():
    """Collect pypdf's repair warnings instead of printing them."""
    logger = logging.getLogger("pypdf")
    records: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _open(data: bytes, filename: str):
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    if not data:
        raise UnsupportedDocument("The file is empty.", filename)
    if not sniff(data, filename):
        raise UnsupportedDocument("This file is named like a PDF but is not one.", filename)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileNotDecryptedError("password required")
        reader.pages[0]  # noqa: B018 - forces the page tree to load (and fail) here
    except (FileNotDecryptedError, DependencyError, NotImplementedError):
        raise UnsupportedDocument(
            "This PDF is password-protected. Open it with its password and save or print "
            "it as a PDF without one, then import that copy.", filename) from None
    except Exception as exc:  # pypdf raises many types on hostile input; all mean "damaged"
        raise UnsupportedDocument(
            f"This PDF is damaged and could not be read ({type(exc).__name__}). "
            "Try opening it and saving a new copy.", filename) from None
    return reader


def _page_texts(reader) -> tuple[list[str], list[int]]:
    texts: list[str] = []
    failed: list[int] = []
    for number, page in enumerate(reader.pages, 1):
        try:
            texts.append((page.extract_text() or "").replace("\x00", ""))
        except Exception:  # one broken content stream should not lose the other pages
            texts.append("")
            failed.append(number)
    return texts, failed


def _check_readable(texts: list[str], filename: str) -> None:
    tokens = "\n".join(texts).split()
    if not any(_WORD.search(t) for t in tokens):
        raise UnsupportedDocument(
            "This PDF has no text layer (it looks like a scan or a picture of pages). "
            "Run it through OCR first, or import the original text.", filename)
    readable = sum(len(t) for t in tokens if _READABLE.match(t))
    if len(tokens) >= 20 and readable < 0.6 * sum(len(t) for t in tokens):
        raise UnsupportedDocument(
            "This PDF's text layer is unreadable (it looks like a scan with poor OCR). "
            "Run it through OCR again, or import the original text.", filename)


def _title(reader, texts: list[str], filename: str) -> str:
    """The metadata title when it is a real one, else the first line of a title page."""
    try:
        meta_title = str((reader.metadata or {}).get("/Title") or "").strip()
    except Exception:
        meta_title = ""
    if meta_title and len(_WORD.findall(meta_title)) >= 2 and not _BAD_TITLES.match(meta_title):
        return meta_title
    first_page = (texts[0] if texts else "").split("\n")
    if any(parse_heading(line.strip()) for line in first_page):
        first_page = []  # a script that starts on page 1: its first line is not a title
    for line in first_page:
        if 3 <= len(_WORD.findall(line)) <= 20:
            return " ".join(line.split())
    return filename.rsplit(".", 1)[0]


def _screenplay(texts: list[str]) -> tuple[str, list[Section], dict] | None:
    lines: list[tuple[int, str]] = []
    for number, text in enumerate(texts, 1):
        lines += [(number, line) for line in text.split("\n")
                  if not _PAGE_NOISE.match(line.strip())]
    elements = classify_lines([line for _, line in lines])
    headings = [e for e in elements if e.type == "heading"]
    cues = sum(1 for e in elements if e.type == "character")
    if len(headings) < 2 or cues < 2:
        return None
    text, sections, stats = assemble(elements)
    at = 0
    for section in sections:
        if section.kind != "scene":
            continue
        while at < len(lines) and section.heading not in lines[at][1]:
            at += 1
        if at < len(lines):
            section.page = lines[at][0]
    return text, sections, stats


def parse(data: bytes, filename: str) -> ParsedDocument:
    with _recovery_log() as repairs:
        reader = _open(data, filename)
        texts, failed = _page_texts(reader)
        title = _title(reader, texts, filename)
    _check_readable(texts, filename)
    metadata: dict = {"pages": len(texts)}
    if repairs:
        metadata["repaired"] = sorted(set(repairs))[:10]
    if failed:
        metadata["unreadable_pages"] = failed
    screenplay = _screenplay(texts)
    if screenplay:
        text, sections, stats = screenplay
        stats["pages"] = len(texts)
        return ParsedDocument(title=title, kind="screenplay", format="pdf", text=text,
                              sections=sections, stats=stats, metadata=metadata)
    sections = [Section(kind="page", anchor=page_anchor(n), ordinal=0, text=t.strip(), page=n)
                for n, t in enumerate(texts, 1) if t.strip()]
    for i, section in enumerate(sections):
        section.ordinal = i
    text = "\n\n".join(s.text for s in sections)
    return ParsedDocument(title=title, kind="paper", format="pdf", text=text, sections=sections,
                          stats={"pages": len(texts), "words": len(text.split())},
                          metadata=metadata)
