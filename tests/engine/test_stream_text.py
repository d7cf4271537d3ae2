"""Streaming text assembly: UTF-8 never split, stop strings and think tags across deltas."""
from __future__ import annotations

import pytest
from embedded_cache import shared_cache_dir

from engine.events import TextDelta, ThinkingDelta
from engine.embedded import ensure_converted
from engine.generation import Detokenizer, StreamSplitter


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ensure_converted(shared_cache_dir()))


def test_detokenizer_never_emits_half_characters(tokenizer):
    text = "Naïve café ☕ — 日本語の文章 🐉 done."
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(text.split())  # multi-byte characters span several tokens
    detok = Detokenizer(tokenizer)
    pieces = [detok.push(i) for i in ids]
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) == text


def feed_in_pieces(splitter: StreamSplitter, text: str, size: int):
    events = []
    for i in range(0, len(text), size):
        events += splitter.feed(text[i:i + size])
    return events + splitter.feed("", final=True)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_think_spans_become_thinking_deltas(size):
    text = "<think>weigh the options</think>The answer is 4."
    events = feed_in_pieces(StreamSplitter((), thinking=False), text, size)
    thinking = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert (thinking, answer) == ("weigh the options", "The answer is 4.")


@pytest.mark.parametrize("size", [1, 2, 5, 100])
def test_stop_string_split_across_deltas(size):
    splitter = StreamSplitter(("END", "\n\n"), thinking=True)
    events = feed_in_pieces(splitter, "hmm</think>Lisbon, then ENDING more", size)
    assert splitter.stopped and splitter.stop_sequence == "END"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Lisbon, then "
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == "hmm"


def test_partial_stop_prefix_is_released_at_the_end():
    splitter = StreamSplitter(("STOP",), thinking=False)
    events = splitter.feed("all ST")
    assert "".join(e.text for e in events) == "all "  # "ST" might begin STOP: held back
    events = splitter.feed("", final=True)
    assert "".join(e.text for e in events) == "ST" and not splitter.stopped
    assert splitter.stop_sequence is None
