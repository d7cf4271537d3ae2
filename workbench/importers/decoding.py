"""Bytes -> text for the text-based importers (Fountain, subtitles, plain text, Markdown).

Why: writers' files arrive as UTF-8 with or without a BOM, UTF-16 or UTF-32 from Windows tools
(with or without a BOM), or a legacy code page; invalid UTF-8 must never crash an import.
UTF-16/32 are recognised by their BOM or, without one, by where the NUL bytes fall (text in
UTF-16LE has a NUL in nearly every odd byte and almost none in the even ones). Otherwise
strict UTF-8 is tried first (fast, and right for nearly every modern file); then
charset-normalizer guesses the encoding.

Binary data is refused with a message a writer understands, wherever it sits: a NUL byte
anywhere in a file that is not UTF-16/32, or any 64 KB window of the decoded text with 1 % or
more control characters (or, for UTF-16/32, undecodable or private-use characters, which is
what random bytes become). The whole file is checked, with one regex pass that only slows
down where there is something to count.

Owns: decoding, newline normalisation, the cheap `head_text` used by sniffers.
Does not know: any format's structure.
"""
from __future__ import annotations

import codecs
import re
import unicodedata

from workbench.errors import UnsupportedDocument

_SNIFF_BYTES = 64 * 1024
_WINDOW = 64 * 1024  # characters per window of the binary check
_MAX_BAD = 0.01  # share of a window that may be control characters
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16's
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_NOT_CONTROL_BYTES = bytes(b for b in range(256)
                           if not (b < 0x20 or b == 0x7f) or b in b"\t\n\r\f")
_C1_UTF8 = re.compile(b"\xc2[\x80-\x9f]")
# What random bytes decode to in UTF-16/32: controls, U+FFFD for invalid units, private use.
_WIDE_JUNK = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff]")


def _normalise(text: str) -> str:
    text = text.lstrip("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for ch in text if ch not in "\n\r\t\f" and unicodedata.category(ch) == "Cc")
    return bad / len(text)


def _nul_share(data: bytes, start: int, step: int) -> float:
    lane = data[start::step]
    return lane.count(0) / max(len(lane), 1)


def wide_codec(head: bytes) -> str | None:
    """'utf-32', 'utf-16', 'utf-16-le', ... when the bytes are UTF-16/32 text, else None."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    if len(head) < 4 or b"\x00" not in head:
        return None
    lanes = [_nul_share(head, k, 4) for k in range(4)]
    if lanes[3] == 1.0 and lanes[2] >= 0.9 and lanes[0] < 0.1:
        return "utf-32-le"
    if lanes[0] == 1.0 and lanes[1] >= 0.9 and lanes[3] < 0.1:
        return "utf-32-be"
    even, odd = _nul_share(head, 0, 2), _nul_share(head, 1, 2)
    if odd >= 0.3 and even <= 0.02:
        return "utf-16-le"
    if even >= 0.3 and odd <= 0.02:
        return "utf-16-be"
    return None


def head_text(data: bytes, limit: int = _SNIFF_BYTES) -> str:
    """A lenient decode of the first bytes, for sniffers only (never raises)."""
    head = data[:limit]
    codec = wide_codec(head)
    return _normalise(head.decode(codec or "utf-8", errors="replace"))


def looks_like_text(data: bytes) -> bool:
    """True for bytes that decode to readable text (no NULs, few control characters)."""
    if not data:
        return False
    head = data[:_SNIFF_BYTES]
    if wide_codec(head):
        text = head_text(head)
        junk = len(_WIDE_JUNK.findall(text)) / max(len(text), 1)
        return junk < _MAX_BAD
    if b"\x00" in head:
        return False
    text = head_text(head)
    replaced = text.count("\ufffd") / max(len(text), 1)
    return _control_ratio(text) < _MAX_BAD and replaced < 0.3


def _binary_at(text: str, junk: re.Pattern) -> int | None:
    """Index of the first window of `text` that is binary data, or None."""
    limit = _MAX_BAD * min(_WINDOW, len(text))
    counts: dict[int, int] = {}
    for match in junk.finditer(text):
        window = match.start() // _WINDOW
        counts[window] = counts.get(window, 0) + 1
        if counts[window] >= limit:
            return window * _WINDOW
    return None


def _refuse_binary(filename: str | None, where: float | None = None) -> None:
    place = ""
    if where is not None and where >= _SNIFF_BYTES:
        from workbench.importers.sizes import format_size

        place = f" from about {format_size(int(where))} into the file"
    raise UnsupportedDocument(
        f"This file contains binary data{place}, not readable text; it may be damaged or be "
        "a different kind of file than its name says (check that it was saved as plain "
        "text).", filename)


def decode_text(data: bytes, filename: str | None = None) -> str:
    """Decode a whole text file; raises UnsupportedDocument for binary or empty data."""
    if not data.strip():
        raise UnsupportedDocument("The file is empty.", filename)
    codec = wide_codec(data[:_SNIFF_BYTES])
    if codec:
        text = _normalise(data.decode(codec, errors="replace"))
        junk = _WIDE_JUNK
    else:
        nul = data.find(b"\x00")
        if nul >= 0:
            _refuse_binary(filename, nul)
        try:
            text = _normalise(data.decode("utf-8"))
            # UTF-8: a control character is a byte below 0x20 or 0x7f, or C2 80..C2 9f; when
            # there is none (nearly always), the windowed scan has nothing to find.
            junk = _CONTROL if (data.translate(None, _NOT_CONTROL_BYTES)
                                or _C1_UTF8.search(data)) else None
        except UnicodeDecodeError:
            text = _normalise(_guess_decode(data))
            junk = _CONTROL
    at = _binary_at(text, junk) if junk is not None else None
    if at is not None:
        _refuse_binary(filename, at * len(data) / max(len(text), 1))
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
