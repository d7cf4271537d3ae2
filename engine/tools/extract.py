"""Turn a backend's text stream into tool-call events: text until a call begins, then calls.

Text that might be the start of a call marker is held back (as generation.py holds back stop
strings); from the first marker on, the rest of the answer is collected and parsed by the
family's format when the stream ends. A parsed answer becomes one ToolCallDelta per call (id,
name and the whole arguments JSON) and `Done("tool_calls")`; an answer that does not parse
is passed on as text, so nothing the model wrote is lost.
Does not know: how the text was generated, or whether calls were forced.
"""
from __future__ import annotations

import json
import uuid
from types import ModuleType
from typing import Iterator

from engine.backends.base import Done, Event, TextDelta, ToolCallDelta, Usage


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def tool_call_events(events: Iterator[Event], fmt: ModuleType,
                     parallel: bool = True) -> Iterator[Event]:
    pending, collecting, usage = "", False, None
    for event in events:
        if isinstance(event, TextDelta):
            if collecting:
                pending += event.text
                continue
            pending += event.text
            hit = _first_marker(pending, fmt.START_MARKERS)
            if hit is not None:
                if pending[:hit].strip():
                    yield TextDelta(pending[:hit])
                pending, collecting = pending[hit:], True
                continue
            keep = _partial_suffix(pending, fmt.START_MARKERS)
            if len(pending) > keep:
                yield TextDelta(pending[:len(pending) - keep])
                pending = pending[len(pending) - keep:]
        elif isinstance(event, Usage):
            usage = event  # deltas first, then Usage, then Done (the Backend contract)
        elif isinstance(event, Done):
            yield from _finish(pending, collecting, fmt, parallel, event)
            if usage is not None:
                yield usage
            yield event if not _called(collecting, pending, fmt, event) else Done("tool_calls")
            return
        else:
            yield event


def _called(collecting: bool, pending: str, fmt: ModuleType, done: Done) -> bool:
    return collecting and done.finish_reason != "error" and fmt.parse(pending) is not None


def _finish(pending: str, collecting: bool, fmt: ModuleType, parallel: bool,
            done: Done) -> Iterator[Event]:
    parsed = fmt.parse(pending) if _called(collecting, pending, fmt, done) else None
    if parsed is None:
        if pending:
            yield TextDelta(pending)
        return
    rest, calls = parsed
    if rest:
        yield TextDelta(rest)
    for index, (name, arguments) in enumerate(calls[:None if parallel else 1]):
        yield ToolCallDelta(index, json.dumps(arguments, ensure_ascii=False),
                            id=new_call_id(), name=name)


def _first_marker(text: str, markers: tuple[str, ...]) -> int | None:
    found = [i for i in (text.find(m) for m in markers) if i >= 0]
    return min(found) if found else None


def _partial_suffix(text: str, markers: tuple[str, ...]) -> int:
    longest = 0
    for marker in markers:
        for n in range(min(len(marker) - 1, len(text)), longest, -1):
            if text.endswith(marker[:n]):
                longest = n
                break
    return longest
