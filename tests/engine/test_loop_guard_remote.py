"""The loop guard on the client side of both remote protocols: a second Longhand serves the
embedded default over loopback (it knows no guard; the request carries only the protocol's own
frequency_penalty), and the backend stops the real greedy loop and the markup echo itself."""
from __future__ import annotations

import os

import pytest
from embedded_cache import shared_cache_dir
from second_longhand import second_longhand
from test_loop_guard_model import ECHO, LOOPING, MARKUP

from engine.backends.anthropic import AnthropicBackend
from engine.events import GenerationParams, collect
from engine.backends.openai_compat import OpenAICompatBackend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("second")
    env = {**os.environ, "LONGHAND_CACHE_DIR": str(shared_cache_dir())}
    with second_longhand(folder / "data", folder / "second.log", env, wait_s=300) as base:
        yield base


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_remote_loop_and_echo_are_stopped_on_the_client(url, protocol):
    if protocol == "openai":
        backend = OpenAICompatBackend("smollm2-135m-instruct", url + "/v1",
                                      context_window=8192, probe=False)
    else:
        backend = AnthropicBackend("smollm2-135m-instruct", url, context_window=8192,
                                   probe=False)
    plain = collect(backend.stream(LOOPING, GenerationParams(max_new_tokens=120)))
    guarded = collect(backend.stream(LOOPING, GenerationParams(
        max_new_tokens=120, loop_guard=8, repetition_penalty=1.2)))
    assert guarded.guard and guarded.guard.startswith("loop: "), (plain.text, guarded.text)
    assert plain.text.startswith(guarded.text.rstrip()) and guarded.text.strip()
    echoed = collect(backend.stream(ECHO, GenerationParams(max_new_tokens=40,
                                                           stop_markup=MARKUP)))
    assert echoed.guard == "markup: <document" and "<document" not in echoed.text
