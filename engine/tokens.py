"""Token counting without torch: the `tokenizers` library on tokenizer.json + the chat template.

Why: the workbench counts the tokens of every imported document and budgets every job against the
model's window; that must be fast and must not pull torch (or transformers, ~0.7 s to import) into
the UI process. Counts come from the same tokenizer.json and chat template the model runs with,
rendered the way transformers renders them (sandboxed Jinja, trim_blocks, lstrip_blocks, special
tokens as variables), so `count_messages` equals what the local backend will feed the model.

Long texts are counted in pieces (`split_for_counting`): encoding a whole 40 MB transcript at
once made the tokenizer hold ~150 bytes per input byte (an Encoding keeps ids, token strings,
offsets and masks for every token, and the normalized string keeps an alignment per byte), and an
83 MB file aborted inside it. Pieces of CHUNK_CHARS are cut where the pre-tokenizer always splits,
so the sum of the pieces' counts is the whole text's count; see `split_for_counting` for why and
for the one fallback where it can be off by a token.

Does not know: models, devices or generation. Remote backends count through their servers.
"""
from __future__ import annotations

import json
import threading
from dataclasses import asdict, is_dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from engine.allocator import give_back_freed_memory
from engine.errors import ModelLoadError

SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")
CHUNK_CHARS = 64 * 1024  # one piece of a long text; the tokenizer's transient is ~100x this
CHUNKS_PER_BATCH = 8  # pieces encoded together (in parallel, in Rust)
_SEARCH_BACK = 16 * 1024  # how far back from a piece's end a clean cut is looked for


class TokenCounter:
    """Counts tokens of plain text and of chat conversations for one tokenizer folder."""

    def __init__(self, tokenizer, chat_template: str | None, special_tokens: dict[str, str],
                 source: Path | None = None):
        self._tokenizer = tokenizer
        self.chat_template = chat_template
        self.special_tokens = special_tokens
        self.source = source
        self._template = None
        self._lock = threading.Lock()

    @classmethod
    def from_folder(cls, path: str | Path) -> "TokenCounter":
        """A folder holding tokenizer.json (and chat_template.jinja or tokenizer_config.json)."""
        return _from_folder(Path(path).resolve())

    @classmethod
    def for_embedded(cls, cache_dir: str | Path) -> "TokenCounter":
        """The embedded default's tokenizer (converts the GGUF on first use, ~25 s, once)."""
        from engine.embedded import ensure_converted

        return cls.from_folder(ensure_converted(Path(cache_dir)))

    @property
    def supports_thinking(self) -> bool:
        return bool(self.chat_template) and "thinking" in self.chat_template

    def count(self, text: str) -> int:
        """Tokens of a plain text, no special tokens added; long texts in bounded memory."""
        if not text:
            return 0
        if len(text) <= CHUNK_CHARS:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        total, batch = 0, []
        for piece in split_for_counting(text):
            batch.append(piece)
            if len(batch) == CHUNKS_PER_BATCH:
                total += self._count_batch(batch)
                batch = []
        total += self._count_batch(batch) if batch else 0
        give_back_freed_memory()  # the tokenizer's freed buffers, not kept for the next text
        return total

    def _count_batch(self, pieces: list[str]) -> int:
        encodings = self._tokenizer.encode_batch_fast(pieces, add_special_tokens=False)
        return sum(len(e.ids) for e in encodings)

    def count_many(self, texts: Iterable[str]) -> list[int]:
        """Counts for many texts at once (the tokenizers library batches them in Rust)."""
        texts = list(texts)
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def render(self, messages: Iterable[Any], *, add_generation_prompt: bool = True,
               thinking: bool = False) -> str:
        """The prompt text the chat template makes of `messages` (Message dataclasses or dicts)."""
        if not self.chat_template:
            raise ModelLoadError(f"the tokenizer at {self.source} has no chat template")
        with self._lock:
            if self._template is None:
                self._template = _compile(self.chat_template)
        chat = [_as_dict(m) for m in messages]
        extra = ({"thinking": thinking, "enable_thinking": thinking}
                 if self.supports_thinking else {})
        return self._template.render(messages=chat, add_generation_prompt=add_generation_prompt,
                                     **self.special_tokens, **extra)

    def count_messages(self, messages: Iterable[Any], *, add_generation_prompt: bool = True,
                       thinking: bool = False) -> int:
        """Tokens of the whole templated prompt, as the model will receive it."""
        text = self.render(messages, add_generation_prompt=add_generation_prompt,
                           thinking=thinking)
        return self.count(text)


def split_for_counting(text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """Consecutive pieces of `text`, each at most `size` characters, joined they are `text`.

    Where a piece ends: just before a line break that is followed by neither whitespace nor a
    digit, or else just before a space that follows a non-space and precedes a letter. With a
    GPT-2-style byte-level pre-tokenizer (the embedded default's: individual digits, then the
    byte-level regex `'s|...| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`), both
    places are always a pre-token boundary, and the whitespace before such a line break ends up
    as the same pre-token whether the text ends there or goes on, so the pieces' counts add up
    to the whole text's exactly (checked on the real testdocs). A piece with neither kind of
    place in its last _SEARCH_BACK characters (a run of symbols or CJK text with no spaces) is
    cut where it is full; each such cut can change the count by about one token. Tokenizers
    of other families (SentencePiece's metaspace) may differ by about one token per piece.
    """
    start, n = 0, len(text)
    while start < n:
        end = start + size
        if end >= n:
            yield text[start:]
            return
        cut = _clean_cut(text, max(start + 1, end - _SEARCH_BACK), end)
        yield text[start:cut]
        start = cut


def _clean_cut(text: str, low: int, high: int) -> int:
    """The last clean cut point in text[low:high] (see split_for_counting), else `high`."""
    at = text.rfind("\n", low, high)
    while at > low:
        after = text[at + 1]
        if not after.isspace() and not after.isnumeric():
            return at
        at = text.rfind("\n", low, at)
    at = text.rfind(" ", low, high)
    while at > low:
        if text[at + 1].isalpha() and not text[at - 1].isspace():
            return at
        at = text.rfind(" ", low, at)
    return high


@lru_cache(maxsize=8)
def _from_folder(folder: Path) -> TokenCounter:
    from tokenizers import Tokenizer

    tokenizer_json = folder / "tokenizer.json"
    if not tokenizer_json.is_file():
        raise ModelLoadError(f"no tokenizer.json in {folder}")
    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    config: dict = {}
    config_path = folder / "tokenizer_config.json"
    if config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
    template = None
    jinja_path = folder / "chat_template.jinja"
    if jinja_path.is_file():
        template = jinja_path.read_text(encoding="utf-8")
    elif isinstance(config.get("chat_template"), str):
        template = config["chat_template"]
    special = {}
    for key in SPECIAL_TOKEN_KEYS:
        value = config.get(key)
        if isinstance(value, Mapping):
            value = value.get("content")
        if isinstance(value, str):
            special[key] = value
    return TokenCounter(tokenizer, template, special, source=folder)


def _as_dict(message: Any) -> dict:
    if is_dataclass(message):
        return {"role": message.role, "content": message.content} if hasattr(
            message, "role") else asdict(message)
    if isinstance(message, Mapping):
        return dict(message)
    raise TypeError(f"a chat message must be a Message or a dict, not {type(message).__name__}")


def _compile(source: str):
    """Compile a chat template the way transformers does (sandboxed, same filters and globals)."""
    import jinja2
    from jinja2.ext import Extension
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(Extension):
        """`{% generation %}` marks assistant spans for training masks; for counting, a no-op."""

        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(
                lineno)

        def _body(self, caller):
            return caller()

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(source)
