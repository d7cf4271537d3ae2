"""The importer registry: bytes + file name -> ParsedDocument, or UnsupportedDocument.

Why a registry that sniffs content: writers' files are misnamed (a screenplay saved as .txt, a
NASA log with no extension, a PDF called .docx), so each importer's `sniff` looks at the bytes
first, in an order where the most specific formats win; the extension is the fallback, and
then the matching importer explains what is wrong ("named like a PDF but is not one").
Everything a writer can get wrong before parsing (an empty file, one over the size limit, a
name that tries to escape a folder) is refused here with a specific message.

Owns: the registry order, size limits, file-name safety, dispatch.
Does not know: any format (one module each) or the database (workbench.library).
"""
from __future__ import annotations

import re
import unicodedata
from types import ModuleType

from workbench.errors import UnsupportedDocument
from workbench.importers import docx, fdx, fountain, pdf, subtitles, text
from workbench.importers.base import ParsedDocument

# Most specific first: binary signatures, then XML, then text formats by their markers,
# and plain text last (it accepts any readable text).
IMPORTERS: tuple[ModuleType, ...] = (pdf, docx, fdx, subtitles, fountain, text)

SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(s for m in IMPORTERS for s in m.SUFFIXES)

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
MAX_NAME_CHARS = 255


def safe_filename(name: str) -> str:
    """The base name of an uploaded file, or UnsupportedDocument for a name that is unsafe.

    Browsers and Gradio hand over paths ('C:\\Users\\me\\draft.fountain', '/tmp/x/a.pdf'):
    those become their base name. Names that climb out of a folder ('..'), contain NUL or
    control characters, or are absurdly long are refused.
    """
    if not isinstance(name, str) or not name.strip():
        raise UnsupportedDocument("The file has no name.")
    shown = name if len(name) < 80 else name[:77] + "..."
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise UnsupportedDocument(
            "The file name contains control characters (such as NUL); rename the file.",
            repr(shown))
    parts = [p for p in re.split(r"[\\/]", name)]
    if any(p.strip() == ".." for p in parts):
        raise UnsupportedDocument(
            "The file name tries to point outside its folder ('..'); rename the file.", shown)
    base = parts[-1].strip()
    if not base or base in (".", ".."):
        raise UnsupportedDocument("The file name is empty once its folder is removed.", shown)
    if len(base) > MAX_NAME_CHARS:
        raise UnsupportedDocument(
            f"The file name is {len(base)} characters long; the limit is {MAX_NAME_CHARS}.",
            shown)
    return base


def _suffix(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot > 0 else ""


def importer_for(data: bytes, filename: str) -> ModuleType | None:
    """The importer whose sniffer recognises the content, else the one owning the suffix."""
    for module in IMPORTERS:
        if module.sniff(data, filename):
            return module
    suffix = _suffix(filename)
    return next((m for m in IMPORTERS if suffix in m.SUFFIXES), None)


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def parse_file(data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedDocument:
    """Parse an uploaded file; raises UnsupportedDocument with a writer-facing reason."""
    name = safe_filename(filename)
    if not data:
        raise UnsupportedDocument("The file is empty.", name)
    if len(data) > max_bytes:
        raise UnsupportedDocument(
            f"The file is {_megabytes(len(data))}, over the import limit of "
            f"{_megabytes(max_bytes)}.", name)
    module = importer_for(data, name)
    if module is None:
        suffix = _suffix(name) or "(no extension)"
        raise UnsupportedDocument(
            f"Longhand cannot read this kind of file ({suffix}): it is not text, and not "
            "PDF, Word (.docx), Final Draft (.fdx), Fountain, SRT or WebVTT.", name)
    return module.parse(data, name)


__all__ = ["IMPORTERS", "SUPPORTED_SUFFIXES", "DEFAULT_MAX_BYTES", "ParsedDocument",
           "UnsupportedDocument", "importer_for", "parse_file", "safe_filename"]
