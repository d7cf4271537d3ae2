"""Scripted backends for trust tests: real classes speaking the Backend protocol, whose answers
are known in advance, so the runner and the scoring can be checked end to end without a model.

`ReadingBackend` reads the prompt like a perfect reader: for each question it finds the
sentence naming the question's invented person and answers with it and the anchor of the
section it sits in. `BlindBackend` never finds anything; `MisCitingBackend` finds the fact
but cites the wrong anchor.
"""
from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from typing import Iterator

from engine.events import Done, Event, GenerationParams, Message, TextDelta, Usage

TOKEN_RE = re.compile(r"\w+|[^\w\s]")
QUESTIONS_RE = re.compile(r"\nQUESTIONS?:\n(?P<q>.*)\Z", re.S)
TAG_RE = re.compile(r"^\[([^\]\n]+)\]", re.M)
SENTENCE_END_RE = re.compile(r"\.[\"”]?(?=\s|$)")


def word_tokens(text: str) -> int:
    return len(TOKEN_RE.findall(text))


class ScriptedBackend(ABC):
    name = "scripted"
    model = "scripted"

    def __init__(self, context_window: int = 4096):
        self.context_window = context_window
        self.calls = 0

    def count_tokens(self, messages: list[Message]) -> int:
        return sum(word_tokens(m.content) + 4 for m in messages)

    @abstractmethod
    def answer(self, prompt: str) -> str:
        """The whole answer to the last user message; each scripted backend decides."""

    def stream(self, messages: list[Message], params: GenerationParams,
               cancel: threading.Event | None = None) -> Iterator[Event]:
        self.calls += 1
        words = self.answer(messages[-1].content).split(" ")
        sent = []
        for i, word in enumerate(words[:max(1, params.max_new_tokens)]):
            if cancel is not None and cancel.is_set():
                yield Usage(self.count_tokens(messages), len(sent))
                yield Done("cancelled")
                return
            sent.append(word)
            yield TextDelta(word if i == 0 else " " + word)
        yield Usage(self.count_tokens(messages), len(sent))
        yield Done("stop")


def questions(prompt: str) -> list[str]:
    block = QUESTIONS_RE.search(prompt).group("q")
    return [re.sub(r"^\d+\.\s*", "", line).strip() for line in block.splitlines() if line.strip()]


def read_fact(prompt: str, question: str) -> tuple[str, str] | None:
    """(the sentence from the invented name on, the anchor of its section), or None."""
    names = re.findall(r"\b[A-Z][a-z]+\b", question)[1:]
    docs = prompt[:prompt.rfind("\nQUESTION")]
    at = docs.find(" ".join(names))
    if not names or at < 0:
        return None
    end = SENTENCE_END_RE.search(docs, at)
    tags = list(TAG_RE.finditer(docs, 0, at))
    return docs[at:end.end() if end else at + 200], tags[-1].group(1)


class ReadingBackend(ScriptedBackend):
    model = "perfect-reader"

    def answer(self, prompt: str) -> str:
        lines = []
        for i, q in enumerate(questions(prompt), 1):
            fact, anchor = read_fact(prompt, q)
            lines.append(f"{i}. {fact} [{anchor}]")
        return "\n".join(lines)


class BlindBackend(ScriptedBackend):
    model = "blind"

    def answer(self, prompt: str) -> str:
        return "I could not find that in the documents."


class MisCitingBackend(ScriptedBackend):
    model = "mis-citing"

    def answer(self, prompt: str) -> str:
        lines = []
        for q in questions(prompt):
            fact, anchor = read_fact(prompt, q)
            wrong = "Sc. 999" if not anchor.startswith("Sc.") else "¶ 999"
            lines.append(f"{fact} [{wrong}]")
        return "\n".join(lines)
