"""The importer registry: bytes + file name -> ParsedDocument, or UnsupportedDocument.

Why a registry that sniffs content: writers' files are misnamed (a screenplay saved as .txt, a
NASA log with no extension, a PDF called .docx), so each importer's `sniff` looks at the bytes
first, in an order where the most specific formats win; the extension is the fallback, and
then the matching importer explains what is wrong ("named like a PDF but is not one").
Everything a writer can get wrong before parsing (an empty file, one over the size limit, a
name that tries to escape a folder or hides characters) is refused here with a specific
message; every parsed document leaves here as valid Unicode with unique anchors.

Owns: the registry order, size limits, file-name safety, dispatch.
Does not know: any format (one module each) or the database (workbench.library).
"""
from __future__ import annotations

import re
import unicodedata
from types import ModuleType

from workbench.errors import UnsupportedDocument
from workbench.importers import docx, fdx, fountain, pdf, subtitles, text
from workbench.importers.base import ParsedDocument, unique_anchors
from workbench.importers.sizes import format_size, over_limit

# Most specific first: binary signatures, then XML, then text formats by their markers,
# and plain text last (it accepts any readable text).
IMPORTERS: tuple[ModuleType, ...] = (pdf, docx, fdx, subtitles, fountain, text)

SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(s for m in IMPORTERS for s in m.SUFFIXES)

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
MAX_NAME_CHARS = 255


# Characters that change how a name is displayed without being seen: direction overrides
# and isolates (U+202E makes 'invoice\u202etxt.exe' show as 'invoiceexe.txt'), zero-width
# spaces and joiners, the word joiner, a stray BOM, line and paragraph separators.
_INVISIBLE = {"Cf": "an invisible formatting character", "Zl": "a line separator",
              "Zp": "a paragraph separator"}
_HIDDEN = ("Cc", "Cs", "Cf", "Zl", "Zp")
_BIDI = {0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def shown_name(name: str) -> str:
    """The name with every control, invisible or non-UTF-8 character written as an escape
    (\\u202e, \\x1b, \\udcff), so a message about it can be printed, stored and read."""
    shown = "".join(ch.encode("unicode_escape").decode("ascii")
                    if unicodedata.category(ch) in _HIDDEN else ch for ch in name)
    return shown if len(shown) < 80 else shown[:77] + "..."


def _name_problem(name: str) -> str | None:
    for ch in name:
        category, code = unicodedata.category(ch), f"U+{ord(ch):04X}"
        if category == "Cs":
            return (f"The file name is not valid Unicode (it holds {code}, a byte that is not "
                    "UTF-8 text); rename the file.")
        if category == "Cc":
            return (f"The file name contains a control character ({code}, such as NUL or "
                    "ESC); rename the file.")
        if ord(ch) in _BIDI:
            return (f"The file name contains a text-direction character ({code}) that can "
                    "disguise its real name and extension; rename the file.")
        if category in _INVISIBLE:
            return (f"The file name contains {_INVISIBLE[category]} ({code}) that cannot be "
                    "seen; rename the file.")
    return None


def safe_filename(name: str) -> str:
    """The base name of an uploaded file, or UnsupportedDocument for a name that is unsafe.

    Browsers and Gradio hand over paths ('C:\\Users\\me\\draft.fountain', '/tmp/x/a.pdf'):
    those become their base name. Names that climb out of a folder ('..'), hold control,
    invisible or text-direction characters (U+202E, U+200B..U+200D, U+2060, U+FEFF), bytes
    that are not UTF-8 (lone surrogates), or are absurdly long are refused.
    """
    if not isinstance(name, str) or not name.strip():
        raise UnsupportedDocument("The file has no name.")
    shown = shown_name(name)
    problem = _name_problem(name)
    if problem:
        raise UnsupportedDocument(problem, shown)
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


_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrub(value):
    """Lone surrogates (pypdf makes them from broken font maps) -> U+FFFD, as for any
    undecodable character: they cannot be tokenized, stored in SQLite or printed."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


def _finish(doc: ParsedDocument, name: str) -> ParsedDocument:
    """What every document guarantees the library: valid Unicode, one section per anchor,
    and at least one section with text (a document nothing can find or cite is refused)."""
    doc.title, doc.text = _scrub(doc.title), _scrub(doc.text)
    doc.stats, doc.metadata = _scrub(doc.stats), _scrub(doc.metadata)
    for section in doc.sections:
        for key in ("anchor", "text", "heading", "number", "speaker"):
            setattr(section, key, _scrub(getattr(section, key)))
        section.meta = _scrub(section.meta)
    unique_anchors(doc.sections)
    if not doc.text.strip() or not any(s.text.strip() for s in doc.sections):
        raise UnsupportedDocument("The file contains no text that can be imported.", name)
    return doc


def parse_file(data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedDocument:
    """Parse an uploaded file; raises UnsupportedDocument with a writer-facing reason."""
    name = safe_filename(filename)
    if not data:
        raise UnsupportedDocument("The file is empty.", name)
    if len(data) > max_bytes:
        raise UnsupportedDocument(over_limit(len(data), max_bytes) + ".", name)
    module = importer_for(data, name)
    if module is None:
        suffix = _suffix(name) or "(no extension)"
        raise UnsupportedDocument(
            f"Longhand cannot read this kind of file ({suffix}): it is not text, and not "
            "PDF, Word (.docx), Final Draft (.fdx), Fountain, SRT or WebVTT.", name)
    return _finish(module.parse(data, name), name)


__all__ = ["IMPORTERS", "SUPPORTED_SUFFIXES", "DEFAULT_MAX_BYTES", "ParsedDocument",
           "UnsupportedDocument", "format_size", "importer_for", "over_limit", "parse_file",
           "safe_filename", "shown_name"]
