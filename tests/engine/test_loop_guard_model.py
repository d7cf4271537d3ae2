"""The loop guard and repetition penalty on the embedded default's own greedy output: the
summary request below loops when decoded greedily with nothing in the way (issue 15), and a
request to copy a packed document echoes its markup; the guard ends both cleanly."""
from __future__ import annotations

import pytest
from embedded_cache import shared_cache_dir

from engine.events import GenerationParams, Message, collect

pytestmark = pytest.mark.slow

SCENE = ("[Sc. 3] INT. TRAFFIC LIGHT HORIZONTAL BEAM--NIGHT\nBOB, a small dog, watches the "
         "clock. He is confused. He is defused. He is happy. The light turns green, then red, "
         "then green again.")
LOOPING = [Message("system", "You summarise screenplay scenes for a script reader."),
           Message("user", SCENE + "\n\nSummarise this scene in three sentences: who is in "
                           "it, what happens, and what changes by its end.")]
DOCUMENT = ('<document id="1" title="Cyber Bob" kind="screenplay" version="1">\n[Sc. 1] EXT. '
            'PARK--DAY\nBob walks the dog.\n</document>')
OTHER = (DOCUMENT.replace('id="1"', 'id="2"').replace("Cyber Bob", "Cat Day")
         .replace("Bob walks the dog", "Margaret feeds the cat"))
COPY = "\n\nCopy the document above exactly, tags included."
# One earlier turn in which markup was echoed (what an adapter trained on packed prompts did):
ECHO = [Message("user", DOCUMENT + COPY), Message("assistant", DOCUMENT),
        Message("user", OTHER + COPY)]
MARKUP = ("<document", "</document")


@pytest.fixture(scope="module")
def backend():
    from engine.backends.local import LocalBackend

    return LocalBackend.load("smollm2-135m-instruct", shared_cache_dir())


def repeated_lines(text: str) -> int:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return max((lines.count(ln) for ln in lines), default=0)


def test_a_real_greedy_loop_is_stopped(backend):
    plain = collect(backend.stream(LOOPING, GenerationParams(max_new_tokens=120)))
    words = plain.text.lower().split()
    grams = [tuple(words[k:k + 8]) for k in range(len(words) - 7)]
    assert len(set(grams)) < len(grams), plain.text  # the unguarded answer loops

    guarded = collect(backend.stream(LOOPING, GenerationParams(max_new_tokens=120,
                                                               loop_guard=8)))
    assert guarded.guard and guarded.guard.startswith("loop: "), guarded.text
    assert guarded.finish_reason == "stop" and guarded.text.strip()
    assert plain.text.startswith(guarded.text.rstrip())  # cut, not rewritten
    g = guarded.text.lower().split()
    assert len({tuple(g[k:k + 8]) for k in range(len(g) - 7)}) == max(0, len(g) - 7)
    assert guarded.usage.completion_tokens < plain.usage.completion_tokens

    penalised = collect(backend.stream(LOOPING, GenerationParams(
        max_new_tokens=120, loop_guard=8, repetition_penalty=1.2)))
    assert penalised.text.strip() and penalised.text != plain.text
    assert repeated_lines(penalised.text) <= 2


def test_an_echo_of_prompt_markup_is_stopped(backend):
    plain = collect(backend.stream(ECHO, GenerationParams(max_new_tokens=40)))
    assert plain.text.startswith('<document id="2"'), plain.text
    guarded = collect(backend.stream(ECHO, GenerationParams(max_new_tokens=40,
                                                            stop_markup=MARKUP)))
    assert "<document" not in guarded.text and "</document" not in guarded.text
    assert guarded.guard and guarded.guard.startswith("markup: ")
    assert guarded.usage.completion_tokens < plain.usage.completion_tokens
