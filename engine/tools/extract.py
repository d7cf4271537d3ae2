"""Turn a backend's text stream into tool-call events: text until a call begins, then calls.

Text that might be the start of a call marker is held back (as generation.py holds back stop
strings); from the first marker on, the rest of the answer is collected and parsed by the
family's format when the stream ends. A parsed answer becomes one ToolCallDelta per call (id,
name and the whole arguments JSON) and `Done("tool_calls")`; an answer that does not parse
is passed on as text, so nothing the model wrote is lost.
A call forced by a grammar (constrain.py) has a known shape, so `forced_call_events` streams
it as it is written: a first ToolCallDelta with id and name as soon as the name is complete,
then the arguments piece by piece (what streaming clients show as the call's input growing).
Does not know: how the text was generated.
"""
from __future__ import annotations

import json
import re
import uuid
from types import ModuleType
from typing import Iterator

from engine.events import Done, Event, TextDelta, ToolCallDelta, Usage
from engine.generation import partial_suffix


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
            keep = partial_suffix(pending, fmt.START_MARKERS)
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


def forced_call_events(events: Iterator[Event], fmt: ModuleType) -> Iterator[Event]:
    """For one grammar-forced call: stream its arguments; text if it was cut before its name."""
    head, tail = re.compile(fmt.FORCED_HEAD), fmt.FORCED_TAIL
    written, sent, named, usage = "", 0, False, None
    for event in events:
        if isinstance(event, TextDelta):
            written += event.text
            if not named:
                match = head.match(written)
                if match is None:
                    continue
                named, sent = True, match.end()
                yield ToolCallDelta(0, "", id=new_call_id(), name=json.loads(f'"{match[1]}"'))
            end = len(written) - len(tail)  # the tail may be arriving: hold it back
            if end > sent:
                yield ToolCallDelta(0, written[sent:end])
                sent = end
        elif isinstance(event, Usage):
            usage = event
        elif isinstance(event, Done):
            if not named and written:
                yield TextDelta(written)
            elif named and not written.endswith(tail) and len(written) > sent:
                yield ToolCallDelta(0, written[sent:])  # cut by max_tokens: all it wrote
            if usage is not None:
                yield usage
            complete = named and written.endswith(tail) and event.finish_reason == "stop"
            yield Done("tool_calls") if complete else event
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
