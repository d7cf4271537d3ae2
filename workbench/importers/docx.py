"""Word (.docx) drafts and notes (python-docx).

Why the zip checks come first: a .docx is a zip archive, and a "zip bomb" (a few kilobytes
that inflate to gigabytes) renamed to .docx would exhaust memory inside python-docx. The
declared sizes in the zip directory are checked first (cheap), but they can lie: zipfile
cuts a member at its declared size only after inflating it in one call of up to 1 GB (1.5 GB
of XML declared as 5,000 bytes took 2.1 GB of memory). So every member is then inflated in
1 MB chunks under a running cap (per member MAX_RATIO times its compressed size, in all
MAX_UNCOMPRESSED) and must hold exactly what it declares; only then does python-docx read it.
Zip features Word never writes (a newer "version needed", other compression, encryption)
are refused by name.

Paragraphs and table cells are read in document order; Word heading styles become section
headings. A draft typed as a screenplay (INT./EXT. headings, character cues) is split into
scenes like a PDF screenplay is.

Owns: .docx -> paragraphs or scenes. Does not know: .doc (binary Word) or .odt.
"""
from __future__ import annotations

import copy
import io
import struct
import zipfile
import zlib

from workbench.errors import UnsupportedDocument
from workbench.importers.base import ParsedDocument, Section, paragraph_anchor
from workbench.importers.scenes import assemble, classify_lines
from workbench.importers.sizes import format_size
from workbench.importers.text import PROSE_WORDS

SUFFIXES = (".docx",)

MAX_UNCOMPRESSED = 256 * 1024 * 1024
MAX_RATIO = 100  # real Word XML compresses about 5-20x
MAX_MEMBERS = 10_000


def sniff(data: bytes, filename: str) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    return b"word/" in data[:65536] or filename.lower().endswith(SUFFIXES)


_CHUNK = 1024 * 1024
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError,
               OverflowError, zlib.error, struct.error, KeyError, IndexError)


def _damaged(filename: str) -> UnsupportedDocument:
    return UnsupportedDocument(
        "This Word file is damaged or is not really a .docx (it is not a valid zip "
        "archive). Try saving it again from Word.", filename)


def _members(data: bytes, filename: str) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        return archive, archive.infolist()
    except NotImplementedError as exc:  # "zip file version 6.4": a format zipfile lacks
        raise _unsupported_zip(exc, filename) from None
    except _ZIP_ERRORS:
        raise _damaged(filename) from None


def _unsupported_zip(exc: Exception, filename: str) -> UnsupportedDocument:
    return UnsupportedDocument(
        f"This .docx uses a zip feature Longhand cannot open ({exc}); Word never writes "
        "one. Save it again from Word as a .docx.", filename)


def _inflate_all(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo],
                 filename: str) -> None:
    """Inflate every member in 1 MB chunks, counting what really comes out (never trusting
    the declared sizes: zipfile would inflate a member in one call of up to 1 GB before
    cutting it to its declared size), and stop at the first cap crossed."""
    total = 0
    for member in members:
        cap = max(_CHUNK, MAX_RATIO * max(member.compress_size, 1))
        probe = copy.copy(member)
        # Read past a lie by one chunk (so the cap, not zipfile's CRC check, says what it is).
        probe.file_size = min(cap, MAX_UNCOMPRESSED - total) + _CHUNK + 1
        inflated = 0
        try:
            with archive.open(probe) as stream:
                while chunk := stream.read(_CHUNK):
                    inflated += len(chunk)
                    if inflated > cap:
                        raise UnsupportedDocument(
                            f"This .docx would inflate more than {MAX_RATIO}-fold when opened "
                            "(a 'zip bomb'); it was refused as unsafe.", filename)
                    if total + inflated > MAX_UNCOMPRESSED:
                        raise _too_big(filename, total + inflated)
        except NotImplementedError as exc:  # a compression method zipfile lacks
            raise _unsupported_zip(exc, filename) from None
        except RuntimeError:  # zipfile: "File ... is encrypted, password required"
            raise UnsupportedDocument(
                "This .docx is password-protected. Open it in Word, remove the password and "
                "save it, then import that copy.", filename) from None
        except _ZIP_ERRORS:
            raise _damaged(filename) from None
        if inflated != member.file_size:
            raise UnsupportedDocument(
                f"This .docx is damaged: the sizes in its zip directory do not match its "
                f"contents ({member.filename} declares {member.file_size:,} bytes and holds "
                f"{inflated:,}); it was refused as unsafe.", filename)
        total += inflated


def _too_big(filename: str, size: int) -> UnsupportedDocument:
    return UnsupportedDocument(
        f"This .docx would take {format_size(size)} or more when opened, more than the "
        f"{format_size(MAX_UNCOMPRESSED)} allowed; it was refused as unsafe.", filename)


def check_archive(data: bytes, filename: str) -> None:
    """Refuse archives that are not Word documents or that would inflate dangerously: the
    declared sizes first (cheap), then every member inflated under a running cap."""
    archive, members = _members(data, filename)
    with archive:
        if len(members) > MAX_MEMBERS:
            raise UnsupportedDocument("This .docx holds an implausible number of parts; it "
                                      "was refused as unsafe.", filename)
        for m in members:
            if m.file_size > _CHUNK and m.file_size > MAX_RATIO * max(m.compress_size, 1):
                raise UnsupportedDocument(
                    f"This .docx would inflate {m.file_size // max(m.compress_size, 1)}-fold "
                    "when opened (a 'zip bomb'); it was refused as unsafe.", filename)
        declared = sum(m.file_size for m in members)
        if declared > MAX_UNCOMPRESSED:
            raise _too_big(filename, declared)
        if not any(m.filename == "word/document.xml" for m in members):
            raise UnsupportedDocument("This zip archive is not a Word document (.docx).",
                                      filename)
        _inflate_all(archive, members, filename)


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
