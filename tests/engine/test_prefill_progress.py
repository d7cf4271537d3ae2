"""Prompt-reading progress from the local decode loop on the embedded default: a long prompt
yields PrefillProgress after each prefill chunk, rising to the prompt's length, before the
first delta; a second run over the same prefix starts at what the prefix cache gave."""
from __future__ import annotations

import pytest
from embedded_cache import shared_cache_dir

from engine.events import Done, GenerationParams, Message, PrefillProgress, TextDelta, collect
from engine.generation import PREFILL_CHUNK

SCREENPLAY = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    from engine.backends.local import LocalBackend

    return LocalBackend.load("smollm2-135m-instruct", shared_cache_dir(),
                             prefix_cache_dir=tmp_path_factory.mktemp("prefix"))


@pytest.mark.slow
def test_long_prompt_reports_each_prefill_chunk_then_the_cache_share(backend, testdocs):
    text = (testdocs / SCREENPLAY).read_text(encoding="utf-8")
    messages = [Message("system", text), Message("user", "Who is Cyber Bob?")]
    params = GenerationParams(max_new_tokens=4)
    events = list(backend.stream(messages, params))
    total = backend.count_tokens(messages)
    assert total > 1000  # more than one chunk
    reading = [e for e in events if isinstance(e, PrefillProgress)]
    first_answer = next(i for i, e in enumerate(events)
                        if not isinstance(e, PrefillProgress))
    assert all(isinstance(e, PrefillProgress) for e in events[:first_answer])
    assert len(reading) == first_answer  # all of them before the answer
    done = [e.done_tokens for e in reading]
    assert done[0] == 0 and done == sorted(done) and done[-1] == total
    assert len(reading) == 1 + -(-total // PREFILL_CHUNK)
    assert all(e.total_tokens == total and e.cached_tokens == 0 for e in reading)
    answer = collect(iter(events))
    assert answer.usage.prompt_tokens == total and isinstance(events[-1], Done)

    again = list(backend.stream(messages[:1] + [Message("user", "Where is the park?")],
                                params))
    reading = [e for e in again if isinstance(e, PrefillProgress)]
    cached = reading[0].cached_tokens
    assert cached >= 1000 and reading[0].done_tokens == cached
    assert reading[-1].done_tokens == reading[-1].total_tokens
    assert all(e.cached_tokens == cached for e in reading)
    assert collect(iter(again)).usage.cached_tokens == cached
    assert any(isinstance(e, TextDelta) for e in again)
