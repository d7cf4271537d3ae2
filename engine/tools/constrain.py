"""Constrained decoding: a grammar mask over the logits, so forced output is valid by design.

Why llguidance (microsoft/llguidance, maintained, Rust, no torch of its own): it compiles JSON
Schema and Lark grammars against the real tokenizer and gives a token bitmask per step in well
under a millisecond, so a 135M model writes a call whose arguments match the tool's schema
because nothing else can be sampled. A forced call is the family's call syntax (hermes.py's
`<tool_call>` tags, llama3.py's bare JSON) around one `%json` object per offered tool whose
`name` is a constant and whose arguments are that tool's `parameters` schema; structured
output (`response_format`) is the schema alone. JSON is compact (`", "`, `": "`, no free
whitespace), so a small model cannot wander into endless blank space.
Does not know: HTTP, or where the masked logits go (generation.py samples them).
"""
from __future__ import annotations

import json
import threading
from types import ModuleType

from engine.events import ToolSpec
from engine.errors import EngineError

JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
ANY_OBJECT = {"type": "object"}


class GrammarError(EngineError):
    """A schema or tool definition the grammar compiler cannot enforce."""


def call_schema(tool: ToolSpec, args_key: str) -> dict:
    return {"type": "object", "properties": {"name": {"const": tool.name},
                                             args_key: tool.parameters or ANY_OBJECT},
            "required": ["name", args_key], "additionalProperties": False}


def _json_rule(schema: dict) -> str:
    return "%json " + json.dumps({**schema, "x-guidance": JSON_OPTIONS})


def forced_call_grammar(fmt: ModuleType, tools: tuple[ToolSpec, ...], choice: str) -> str:
    """Lark for one call to `choice` (a tool's name) or, for "required", to any tool."""
    chosen = [t for t in tools if choice == "required" or t.name == choice]
    if not chosen:
        raise GrammarError(f"tool_choice names {choice!r}, which is not among the tools "
                           f"({', '.join(t.name for t in tools) or 'none'})")
    markup = getattr(fmt, "forced_lark_for_tools", None)  # a format whose calls are not JSON
    if markup is not None:
        return markup(chosen)
    return fmt.forced_lark([_json_rule(call_schema(t, fmt.ARGS_KEY)) for t in chosen])


def json_grammar(schema: dict | None) -> str:
    """Lark for one JSON value matching `schema` ({} or None: any JSON object)."""
    return f"start: {_json_rule(schema or ANY_OBJECT)}\n"


def check(grammar: str) -> None:
    """Raise GrammarError if llguidance cannot compile `grammar` (no tokenizer needed)."""
    import llguidance

    failed, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    if failed:
        raise GrammarError(f"the schema cannot be enforced: {messages[0]}")


class GrammarMask:
    """One generation's matcher: `apply(logits)` before sampling, `advance(token)` after."""

    def __init__(self, matcher, vocab: int):
        self.matcher = matcher
        self.vocab = vocab

    def apply(self, logits) -> None:  # logits: (V,), masked in place
        import numpy as np
        import torch

        words = np.frombuffer(self.matcher.compute_bitmask(), dtype=np.uint8)
        blocked = np.unpackbits(words, bitorder="little")[:logits.shape[-1]] == 0  # (<=V,)
        n = blocked.shape[0]
        if n < logits.shape[-1]:  # rows past the tokenizer's vocabulary (padding)
            logits[n:] = float("-inf")
        logits[:n].masked_fill_(torch.from_numpy(blocked).to(logits.device), float("-inf"))

    def advance(self, token_id: int) -> None:
        if not self.matcher.consume_token(token_id):
            raise GrammarError(f"the grammar rejected token {token_id}: "
                               f"{self.matcher.get_error()}")

    @property
    def finished(self) -> bool:
        return self.matcher.is_stopped()


class MaskFactory:
    """Per tokenizer: llguidance's view of the vocabulary (~1 s to build, so built once)."""

    def __init__(self, tokenizer, eos_ids: set[int]):
        self._tokenizer, self._eos = tokenizer, sorted(eos_ids)
        self._ll = None
        self._lock = threading.Lock()

    def _ll_tokenizer(self):
        import llguidance.hf

        with self._lock:
            if self._ll is None:
                self._ll = llguidance.hf.from_tokenizer(
                    self._tokenizer, eos_token=self._eos or None)
            return self._ll

    def mask(self, grammar: str) -> GrammarMask:
        import llguidance

        ll = self._ll_tokenizer()
        matcher = llguidance.LLMatcher(ll, grammar, log_level=0)
        if matcher.is_error():
            raise GrammarError(f"the schema cannot be enforced: {matcher.get_error()}")
        return GrammarMask(matcher, ll.vocab_size)
