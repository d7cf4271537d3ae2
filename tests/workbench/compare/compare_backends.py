"""Scripted backends for comparison tests: real classes speaking the Backend protocol whose
answers are known in advance. Each names itself in its answer the way real models do ("I am
Qwen", "As DeepSeek") and cites the first anchor of the prompt, so masking and citation
checks are exercised without a model. `DownBackend` fails like a remote that is not there.
"""
from __future__ import annotations

import re
import threading
from typing import Iterator

from engine.events import Done, Event, GenerationParams, Message, TextDelta, Usage
from engine.errors import EngineError

TAG_RE = re.compile(r"^\[([^\]\n]+)\]", re.M)


class NamingBackend:
    name = "scripted"

    def __init__(self, model: str, says: str, context_window: int = 16384):
        self.model, self.says, self.context_window = model, says, context_window

    def count_tokens(self, messages: list[Message]) -> int:
        return sum(len(m.content.split()) + 4 for m in messages)

    def stream(self, messages: list[Message], params: GenerationParams,
               cancel: threading.Event | None = None) -> Iterator[Event]:
        tags = TAG_RE.findall(messages[-1].content)
        words = f"{self.says} The story opens at [{tags[0]}] with a scene.".split(" ")
        for i, word in enumerate(words[:max(1, params.max_new_tokens)]):
            yield TextDelta(word if i == 0 else " " + word)
        yield Usage(self.count_tokens(messages), len(words))
        yield Done("stop")


class DownBackend(NamingBackend):
    def stream(self, messages, params, cancel=None):
        raise EngineError("could not reach http://127.0.0.1:9/v1: connection refused")
        yield  # a generator, like the real ones
