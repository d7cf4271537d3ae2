"""Word (.docx) drafts and notes (python-docx).

Why the zip checks come first: a .docx is a zip archive, and a "zip bomb" (a few kilobytes
that inflate to gigabytes) renamed to .docx would exhaust memory inside python-docx. The
declared sizes in the zip directory are checked before anything is inflated, and zipfile
itself stops reading a member at its declared size, so the declared sizes can be trusted.

Paragraphs and table cells are read in document order; Word heading styles become section
headings. A draft typed as a screenplay (INT./EXT. headings, character cues) is split into
scenes like a PDF screenplay is.

Owns: .docx -> paragraphs or scenes. Does not know: .doc (binary Word) or .odt.
"""
from __future__ import annotations

import io
import zipfile

from workbench.errors import UnsupportedDocument
from workbench.importers.base import ParsedDocument, Section, paragraph_anchor
from workbench.importers.scenes import assemble, classify_lines
from workbench.importers.text import PROSE_WORDS

SUFFIXES = (".docx",)

MAX_UNCOMPRESSED = 256 * 1024 * 1024
MAX_RATIO = 100  # real Word XML compresses about 5-20x
MAX_MEMBERS = 10_000


def sniff(data: bytes, filename: str) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    return b"word/" in data[:65536] or filename.lower().endswith(SUFFIXES)


def check_archive(data: bytes, filename: str) -> None:
    """Refuse archives that are not Word documents or that would inflate dangerously."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise UnsupportedDocument(
            "This Word file is damaged or is not really a .docx (it is not a valid zip "
            "archive). Try saving it again from Word.", filename) from None
    if len(members) > MAX_MEMBERS:
        raise UnsupportedDocument("This .docx holds an implausible number of parts; it was "
                                  "refused as unsafe.", filename)
    total = sum(m.file_size for m in members)
    for m in members:
        if m.file_size > 1024 * 1024 and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise UnsupportedDocument(
                f"This .docx would inflate {m.file_size // max(m.compress_size, 1)}-fold when "
                "opened (a 'zip bomb'); it was refused as unsafe.", filename)
    if total > MAX_UNCOMPRESSED:
        raise UnsupportedDocument(
            f"This .docx would take {total // (1024 * 1024)} MB when opened, more than the "
            f"{MAX_UNCOMPRESSED // (1024 * 1024)} MB allowed; it was refused as unsafe.",
            filename)
    if not any(m.filename == "word/document.xml" for m in members):
        raise UnsupportedDocument("This zip archive is not a Word document (.docx).", filename)


def _blocks(document) -> list[tuple[str, str | None]]:
    """(text, style name) for each paragraph, table cells included, in document order."""
    from docx.table import Table

    out: list[tuple[str, str | None]] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                for cell in row.cells:
                    out += [(p.text, None) for p in cell.paragraphs]
        else:
            out.append((item.text, item.style.name if item.style is not None else None))
    return out


def parse(data: bytes, filename: str) -> ParsedDocument:
    if not data:
        raise UnsupportedDocument("The file is empty.", filename)
    check_archive(data, filename)
    try:
        from docx import Document

        document = Document(io.BytesIO(data))
        blocks = _blocks(document)
        core_title = (document.core_properties.title or "").strip()
    except Exception as exc:  # python-docx raises many types on damaged parts
        raise UnsupportedDocument(
            f"This Word file is damaged and could not be read ({type(exc).__name__}). "
            "Try saving it again from Word.", filename) from None
    lines = [text for text, _ in blocks]
    elements = classify_lines(lines)
    if (sum(e.type == "heading" for e in elements) >= 2
            and sum(e.type == "character" for e in elements) >= 2):
        text, sections, stats = assemble(elements)
        return ParsedDocument(title=core_title or filename.rsplit(".", 1)[0],
                              kind="screenplay", format="docx", text=text,
                              sections=sections, stats=stats)
    sections: list[Section] = []
    heading = None
    title = core_title
    for text, style in blocks:
        text = text.strip()
        if not text:
            continue
        if style and (style.startswith("Heading") or style == "Title"):
            heading = text
            title = title or (text if style == "Title" else "")
        sections.append(Section(kind="paragraph", anchor=paragraph_anchor(len(sections) + 1),
                                ordinal=len(sections), text=text, heading=heading))
    if not sections:
        raise UnsupportedDocument("This Word document contains no text.", filename)
    body = "\n\n".join(s.text for s in sections)
    words = len(body.split())
    return ParsedDocument(title=title or filename.rsplit(".", 1)[0],
                          kind="prose" if words >= PROSE_WORDS else "notes", format="docx",
                          text=body, sections=sections, stats={"words": words})
