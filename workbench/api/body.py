"""Decoding an API request body: strict UTF-8 JSON, or a 400 that says what is wrong with it.

Why our own: FastAPI decodes with `json.loads` and turns every failure but a JSONDecodeError --
invalid UTF-8, a RecursionError on deeply nested arrays -- into a bare HTTPException that says
only "There was an error parsing the body"; and a lone surrogate escape (`"\\ud800"`) decodes
into a str that no encoder accepts, so it fails later, deep in the engine, as a 500. Here the
body is decoded once, before FastAPI sees it (routing.py hands FastAPI the parsed value), and
each of those is refused up front in the caller's protocol's error shape.
Does not know the wire models: shape and field checks stay with pydantic (wire.py).
References: RFC 8259 (JSON; section 8.1: UTF-8 between systems, 8.2: unpaired surrogates).
"""
from __future__ import annotations

import json
import re

from .errors import bad_request

MAX_DEPTH = 100  # far beyond any chat request or tool schema; json's C decoder recurses
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def decode_json_body(raw: bytes) -> object:
    """The parsed body, or ApiError 400 naming the fault (encoding, syntax, depth, surrogate)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"request body is not valid UTF-8: byte 0x{raw[exc.start]:02x} at "
                          f"offset {exc.start}; JSON bodies must be UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_not_a_json_number)
    except json.JSONDecodeError as exc:
        raise bad_request(f"request body is not valid JSON: {exc}") from None
    except RecursionError:  # the decoder's own guard, near sys.getrecursionlimit() levels
        raise _too_deep() from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise _too_deep()  # parsed, but deeper than later encoders and validators should see
    if _SURROGATE_ESCAPE.search(text) and _holds_lone_surrogate(value):
        raise bad_request("request body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff "
                          "without its pair), which is not a character; send valid Unicode")
    return value


def _depth(value: object) -> int:
    """Nesting depth of a parsed value, walked without recursion (containers only)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def _not_a_json_number(name: str):
    raise bad_request(f"request body is not valid JSON: {name} is not a JSON number")


def _holds_lone_surrogate(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _too_deep():
    return bad_request(f"request body nests JSON deeper than {MAX_DEPTH} levels")
