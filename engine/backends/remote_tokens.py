"""Token counting for remote models, which a budget needs before the server is asked anything.

Why: OpenAI Chat Completions has no counting endpoint, yet every job and every HTTP API request
is budgeted against the window before it runs. A remote model is counted with the tokenizer the
user named (a local model name, a tokenizer.json file, or a Hugging Face folder); with none, with
the embedded default's tokenizer, and then the count says it is an estimate (`estimate`, a
sentence shown in budgets) instead of failing. A bare tokenizer.json has no chat template: the
framing of each message is then estimated too.

Does not know: servers or settings; `cache_dir` is where the embedded tokenizer is converted.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from engine.errors import ModelLoadError

PER_MESSAGE_FRAMING = 4  # role markers around each message when no chat template is known
NO_TOKENIZER = ("an estimate: counted with the embedded SmolLM2 tokenizer because no tokenizer "
                "was given for this model (add-model --tokenizer); the server's count may differ")


class RemoteCounter:
    """`count_messages` / `count` over a tokenizer loaded on first use; `estimate` or None."""

    def __init__(self, load: Callable[[], object], estimate: str | None, source: str):
        self._load = load
        self._counter = None
        self._lock = threading.Lock()
        self.estimate = estimate
        self.source = source

    @property
    def counter(self):
        with self._lock:
            if self._counter is None:
                self._counter = self._load()
                if not self._counter.chat_template and self.estimate is None:
                    self.estimate = (f"an estimate: {self.source} has no chat template, so "
                                     "the framing of each message is estimated")
            return self._counter

    def count(self, text: str) -> int:
        return self.counter.count(text)

    def count_messages(self, messages) -> int:
        counter = self.counter
        if counter.chat_template:
            return counter.count_messages(messages)
        return sum(counter.count(_content(m)) + PER_MESSAGE_FRAMING for m in messages)


def _content(message) -> str:
    """A Message's text, or a chat dict's (tools rendered as text come as dicts)."""
    return message["content"] if isinstance(message, dict) else message.content


def remote_counter(tokenizer: str | None, cache_dir: Path) -> RemoteCounter:
    """The counter for a remote model; `check_tokenizer` first when the name comes from a user."""
    from engine.tokens import TokenCounter

    if not tokenizer:
        return RemoteCounter(lambda: TokenCounter.for_embedded(cache_dir), NO_TOKENIZER,
                             "the embedded tokenizer")
    path = Path(tokenizer).expanduser()
    if path.is_file():
        return RemoteCounter(lambda: _from_file(path), None, str(path))
    if path.is_dir() and (path / "tokenizer.json").is_file():
        return RemoteCounter(lambda: TokenCounter.from_folder(path), None, str(path))
    return RemoteCounter(lambda: _from_model(tokenizer, Path(cache_dir)), None, tokenizer)


def check_tokenizer(tokenizer: str, cache_dir: Path) -> str:
    """Load it once so a typo fails when the model is added, not at its first budget."""
    from engine.errors import ModelNotFound

    counter = remote_counter(tokenizer, cache_dir)
    try:
        counter.count("check")
    except ModelNotFound as exc:
        raise ModelNotFound(f"tokenizer {tokenizer!r} is neither a tokenizer.json file, a "
                            "Hugging Face folder nor a local model name") from exc
    return counter.source


def _from_file(path: Path):
    from tokenizers import Tokenizer

    from engine.tokens import TokenCounter

    if path.suffix.lower() != ".json":
        raise ModelLoadError(f"{path} is not a tokenizer.json file")
    beside = path.parent
    if path.name == "tokenizer.json" and ((beside / "tokenizer_config.json").is_file()
                                          or (beside / "chat_template.jinja").is_file()):
        return TokenCounter.from_folder(path.parent)  # its chat template counts exactly
    try:
        return TokenCounter(Tokenizer.from_file(str(path)), None, {}, source=path)
    except Exception as exc:  # the tokenizers library raises a bare Exception on bad JSON
        raise ModelLoadError(f"{path} is not a readable tokenizer.json: {exc}") from exc


def _from_model(name: str, cache_dir: Path):
    from engine import embedded
    from engine.models import resolve
    from engine.tokens import TokenCounter

    spec = resolve(name)
    if spec.kind == "embedded":
        return TokenCounter.for_embedded(cache_dir)
    if spec.kind == "gguf":
        return TokenCounter.from_folder(embedded.ensure_converted(cache_dir, spec.path))
    if spec.path is None:
        raise ModelLoadError(f"{spec.name} has no tokenizer on this machine: give a "
                             "tokenizer.json file or a Hugging Face folder as the tokenizer")
    return TokenCounter.from_folder(spec.path)
