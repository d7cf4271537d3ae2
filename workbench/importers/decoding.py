"""Bytes -> text for the text-based importers (Fountain, subtitles, plain text, Markdown).

Why: writers' files arrive as UTF-8 with or without a BOM, UTF-16 from Windows tools, or a
legacy code page; invalid UTF-8 must never crash an import. Strict UTF-8 is tried first (fast,
and right for nearly every modern file); otherwise charset-normalizer guesses the encoding.
Binary data (NUL bytes, many control characters) is refused with a message a writer understands.

Owns: decoding, newline normalisation, the cheap `head_text` used by sniffers.
Does not know: any format's structure.
"""
from __future__ import annotations

import codecs
import unicodedata

from workbench.errors import UnsupportedDocument

_SNIFF_BYTES = 64 * 1024
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _normalise(text: str) -> str:
    text = text.lstrip("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for ch in text if ch not in "\n\r\t\f" and unicodedata.category(ch) == "Cc")
    return bad / len(text)


def head_text(data: bytes, limit: int = _SNIFF_BYTES) -> str:
    """A lenient decode of the first bytes, for sniffers only (never raises)."""
    head = data[:limit]
    if head.startswith(_UTF16_BOMS):
        return _normalise(head.decode("utf-16", errors="replace"))
    return _normalise(head.decode("utf-8", errors="replace"))


def looks_like_text(data: bytes) -> bool:
    """True for bytes that decode to readable text (no NULs, few control characters)."""
    if not data:
        return False
    head = data[:_SNIFF_BYTES]
    if head.startswith(_UTF16_BOMS):
        return _control_ratio(head_text(head)) < 0.01
    if b"\x00" in head:
        return False
    text = head_text(head)
    replaced = text.count("\ufffd") / max(len(text), 1)
    return _control_ratio(text) < 0.01 and replaced < 0.3


def decode_text(data: bytes, filename: str | None = None) -> str:
    """Decode a whole text file; raises UnsupportedDocument for binary or empty data."""
    if not data.strip():
        raise UnsupportedDocument("The file is empty.", filename)
    if data.startswith(_UTF16_BOMS):
        text = _normalise(data.decode("utf-16", errors="replace"))
    elif b"\x00" in data[:_SNIFF_BYTES]:
        raise UnsupportedDocument(
            "This is a binary file, not text; it cannot be read as a document "
            "(check that it was saved as plain text).", filename)
    else:
        try:
            text = _normalise(data.decode("utf-8"))
        except UnicodeDecodeError:
            text = _normalise(_guess_decode(data))
    if _control_ratio(text[:_SNIFF_BYTES]) >= 0.01:
        raise UnsupportedDocument(
            "This file contains binary data, not readable text; it may be damaged or be "
            "a different kind of file than its name says.", filename)
    if not text.strip():
        raise UnsupportedDocument("The file contains no text.", filename)
    return text


def _guess_decode(data: bytes) -> str:
    """Not valid UTF-8: a UTF-8 file with a few damaged bytes, or a legacy code page."""
    lenient = data.decode("utf-8", errors="replace")
    damaged = lenient.count("\ufffd")
    has_utf8 = any(ord(c) > 127 and c != "\ufffd" for c in lenient)
    if has_utf8 and damaged <= max(4, len(lenient) // 1000):
        return lenient
    from charset_normalizer import from_bytes

    results = from_bytes(data)
    best = results.best()
    if best is None:
        # No encoding fits; keep what is readable rather than failing a writer's notes.
        return lenient
    # Western European text often ties between several code pages; Windows-1252 is the one
    # writers' tools actually produce.
    tied = [m for m in results if m.chaos <= best.chaos + 0.01]
    western = next((m for m in tied if m.encoding == "cp1252"), None)
    return str(western or best)
