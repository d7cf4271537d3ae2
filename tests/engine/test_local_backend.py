"""The local backend on the embedded default: real answers, stops, limits, cancel, usage."""
from __future__ import annotations

import threading
import time

import pytest
from embedded_cache import shared_cache_dir

from engine.backends.protocol import Backend
from engine.events import Done, GenerationParams, Message, TextDelta, Usage, collect
from engine.tokens import TokenCounter

PASSAGE = Message("user", "Read this passage: 'Mara lives in Lisbon. Her house is painted blue.' "
                          "What colour is Mara's house?")


@pytest.fixture(scope="module")
def backend():
    from engine.backends.local import LocalBackend

    return LocalBackend.load("smollm2-135m-instruct", shared_cache_dir())


@pytest.mark.slow
def test_answers_from_the_passage_and_reports_usage(backend):
    assert isinstance(backend, Backend) and backend.context_window == 8192
    assert backend.report.path_taken == "cached" and backend.report.resident_bytes > 5e8
    events = list(backend.stream([PASSAGE], GenerationParams(max_new_tokens=40)))
    assert isinstance(events[-1], Done) and isinstance(events[-2], Usage)
    done = collect(iter(events))
    assert "blue" in done.text.lower()
    assert done.finish_reason == "stop"  # the model ended its answer itself
    assert done.usage.prompt_tokens == backend.count_tokens([PASSAGE])
    assert done.usage.prompt_tokens == TokenCounter.for_embedded(
        shared_cache_dir()).count_messages([PASSAGE])
    assert 0 < done.usage.completion_tokens < 40


@pytest.mark.slow
def test_stop_string_and_token_limit(backend):
    stopped = collect(backend.stream([PASSAGE], GenerationParams(max_new_tokens=40,
                                                                stop=("blue",))))
    assert stopped.finish_reason == "stop"
    assert stopped.text and "blue" not in stopped.text.lower()
    limited = collect(backend.stream([PASSAGE], GenerationParams(max_new_tokens=3)))
    assert limited.finish_reason == "length" and limited.usage.completion_tokens == 3


@pytest.mark.slow
def test_seeded_sampling_is_reproducible(backend):
    params = GenerationParams(max_new_tokens=8, temperature=0.9, top_p=0.9, seed=7)
    first = collect(backend.stream([PASSAGE], params)).text
    assert first and collect(backend.stream([PASSAGE], params)).text == first


@pytest.mark.slow
def test_cancel_from_another_thread_stops_within_a_step(backend):
    cancel, started = threading.Event(), threading.Event()
    events, after_cancel = [], []

    def consume():
        for ev in backend.stream([Message("user", "Write a long story about a dragon.")],
                                 GenerationParams(max_new_tokens=300), cancel):
            (after_cancel if cancel.is_set() else events).append(ev)
            if isinstance(ev, TextDelta):
                started.set()

    worker = threading.Thread(target=consume)
    worker.start()
    assert started.wait(300), "no text arrived"
    cancel.set()
    t0 = time.perf_counter()
    worker.join(120)
    assert not worker.is_alive()
    deltas_after = [e for e in after_cancel if isinstance(e, TextDelta)]
    assert len(deltas_after) <= 1  # at most the step that was running when cancel was set
    assert isinstance(after_cancel[-1], Done) and after_cancel[-1].finish_reason == "cancelled"
    assert after_cancel[-2].completion_tokens < 300
    print(f"cancel took {time.perf_counter() - t0:.3f} s")
