"""Harness for the HTTP API tests: a live uvicorn server on loopback and a paced echo backend.

`PacedEchoBackend` is a real Backend (the protocol in engine/events.py), deterministic
and cheap: it answers with the words of the last message, one "token" per word at a fixed
pace, honours max_new_tokens, stop strings, thinking and the cancel Event, and records what
happened. The queue, load, framing and error tests use it; content tests use the real model.
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import uvicorn

from engine.events import (Done, Event, GenerationParams, Message, TextDelta,
                                  ThinkingDelta, Usage)


@dataclass
class PacedEchoBackend:
    name: str = "local"
    model: str = "paced-echo"
    context_window: int = 64
    delay_s: float = 0.0
    started: int = 0
    finished: int = 0
    cancelled: int = 0
    running: int = 0
    max_running: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count_tokens(self, messages: list[Message]) -> int:
        return sum(3 + len(m.content.split()) for m in messages)

    def stream(self, messages: list[Message], params: GenerationParams,
               cancel: threading.Event | None = None) -> Iterator[Event]:
        prompt = self.count_tokens(messages)
        words = messages[-1].content.split()
        if words[:1] == ["RAISE"]:
            raise RuntimeError("device lost")
        with self._lock:
            self.started += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            yield from self._answer(words, prompt, params, cancel)
        finally:
            with self._lock:
                self.running -= 1
                self.finished += 1

    def _answer(self, words, prompt, params, cancel) -> Iterator[Event]:
        if words[:1] == ["FAIL"]:
            yield Usage(prompt, 0)
            yield Done("error", error="simulated device failure")
            return
        if params.thinking:
            yield ThinkingDelta(f"echoing {len(words)} words")
        text, emitted = "", 0
        for word in words:
            if cancel is not None and cancel.is_set():
                with self._lock:
                    self.cancelled += 1
                yield Usage(prompt, emitted)
                yield Done("cancelled")
                return
            if emitted >= params.max_new_tokens:
                yield Usage(prompt, emitted)
                yield Done("length")
                return
            time.sleep(self.delay_s)
            if word == "BREAK":
                yield Usage(prompt, emitted)
                yield Done("error", error="simulated failure mid-answer")
                return
            piece = (" " if text else "") + word
            emitted += 1
            hit = next((s for s in params.stop if s in text + piece), None)
            if hit is not None:
                cut = (text + piece).index(hit)
                if cut > len(text):
                    yield TextDelta((text + piece)[len(text):cut])
                yield Usage(prompt, emitted)
                yield Done("stop")
                return
            text += piece
            yield TextDelta(piece)
        yield Usage(prompt, emitted)
        yield Done("stop")


class LiveServer:
    """uvicorn serving `app` on a free loopback port in a background thread."""

    def __init__(self, app):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> "LiveServer":
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


def wait_until(predicate, timeout: float = 5.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
