"""Server-sent events as both protocols frame them, and the response that carries them.

Owns the bytes on the wire: OpenAI sends `data: {json}\\n\\n` chunks ended by `data: [DONE]`;
Anthropic sends `event: <type>\\ndata: {json}\\n\\n` pairs (see the WHATWG EventSource spec and
each vendor's streaming reference). `EventStreamResponse` runs an `on_close` callback however
the stream ends -- finished, failed, or the client hung up -- which is how a disconnect
reaches the engine's cancel Event.
Does not know the meaning of the events.
"""
from __future__ import annotations

import json
from typing import AsyncIterator, Callable

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def data_frame(payload: dict | str) -> bytes:
    body = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {body}\n\n".encode("utf-8")


def event_frame(event: str, payload: dict) -> bytes:
    body = json.dumps(payload, ensure_ascii=False)
    return f"event: {event}\ndata: {body}\n\n".encode("utf-8")


DONE_FRAME = data_frame("[DONE]")


class EventStreamResponse(StreamingResponse):
    """A text/event-stream response whose `on_close` always runs once it stops."""

    def __init__(self, frames: AsyncIterator[bytes], on_close: Callable[[], None]):
        super().__init__(frames, media_type="text/event-stream", headers=SSE_HEADERS)
        self._on_close = [on_close]

    def add_on_close(self, callback: Callable[[], None]) -> None:
        """Run `callback` too, after the ones given before."""
        self._on_close.append(callback)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            for callback in self._on_close:
                callback()
