"""One Longhand talking to another: the openai_compat and anthropic backends against our own API.

A live API server (workbench.api on uvicorn, loopback) serves the embedded default model; the
remote backends reach it through the official SDKs exactly as they would reach DeepSeek or
Anthropic. Greedy answers through either protocol must equal the local backend's own answer,
token counts must agree, errors must arrive as the engine's own exceptions, and a cancelled
remote stream must free the server's slot.
"""
from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn
from embedded_cache import shared_cache_dir

from engine.backends.anthropic import AnthropicBackend
from engine.events import GenerationParams, Message, collect
from engine.backends.factory import make_backend
from engine.backends.openai_compat import OpenAICompatBackend
from engine.errors import BackendUnavailable
from engine.tokens import TokenCounter
from workbench.api import create_api_app
from workbench.config import DEFAULT_MODEL, Settings

pytestmark = pytest.mark.slow

MESSAGES = [Message("system", "Answer briefly."),
            Message("user", "What is the capital of France?")]
GREEDY = GenerationParams(max_new_tokens=6, temperature=0.0)
KEY = "longhand-to-longhand"


class _Server:
    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="module")
def local():
    return make_backend(DEFAULT_MODEL, cache_dir=shared_cache_dir())


@pytest.fixture(scope="module")
def server(local):
    settings = Settings(api_key=KEY)
    with _Server(create_api_app(settings, lambda: local)) as live:
        yield live


@pytest.fixture(scope="module")
def reference(local):
    return collect(local.stream(MESSAGES, GREEDY))


@pytest.fixture(scope="module")
def remotes(server):
    counter = TokenCounter.for_embedded(shared_cache_dir())
    return {
        "openai": OpenAICompatBackend(DEFAULT_MODEL, f"{server.url}/v1", KEY, counter=counter),
        "anthropic": AnthropicBackend(DEFAULT_MODEL, server.url, KEY),
    }


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_remote_backend_matches_the_local_model(kind, remotes, local, reference):
    remote = remotes[kind]
    assert remote.context_window == local.context_window == 8192  # read from /v1/models
    assert remote.count_tokens(MESSAGES) == local.count_tokens(MESSAGES)
    got = collect(remote.stream(MESSAGES, GREEDY))
    assert got.error is None and got.finish_reason == reference.finish_reason
    assert got.text == reference.text and any(c.isalpha() for c in got.text)
    assert got.usage.prompt_tokens == reference.usage.prompt_tokens
    assert got.usage.completion_tokens == reference.usage.completion_tokens


def test_stop_sequences_travel_through_both_protocols(remotes, reference):
    words = [w for w in reference.text.split() if w.isalpha()]
    stop = words[-1]
    params = GenerationParams(max_new_tokens=6, temperature=0.0, stop=(stop,))
    for remote in remotes.values():
        got = collect(remote.stream(MESSAGES, params))
        assert got.text == reference.text[:reference.text.index(stop)]


def test_refusals_arrive_as_engine_errors(server, remotes):
    too_long = [Message("user", "word " * 9000)]  # max_tokens over the room is capped, a
    with pytest.raises(BackendUnavailable, match="400.*prompt is too long"):  # prompt is not
        collect(remotes["anthropic"].stream(too_long, GenerationParams(max_new_tokens=9000)))
    with pytest.raises(BackendUnavailable, match="404.*no-such-model"):
        collect(AnthropicBackend("no-such-model", server.url, KEY, context_window=8192)
                .stream(MESSAGES, GREEDY))
    with pytest.raises(BackendUnavailable, match="401"):
        AnthropicBackend(DEFAULT_MODEL, server.url, "wrong-key").count_tokens(MESSAGES)
    with pytest.raises(BackendUnavailable, match="401"):
        collect(OpenAICompatBackend(DEFAULT_MODEL, f"{server.url}/v1", None,
                                    context_window=8192).stream(MESSAGES, GREEDY))


def test_cancelling_a_remote_stream_frees_the_server(server, remotes):
    cancel = threading.Event()
    long_answer = GenerationParams(max_new_tokens=400, temperature=0.0)
    events = remotes["openai"].stream(
        [Message("user", "Write a long story about a lighthouse.")], long_answer, cancel)
    first = next(events)
    assert first.kind == "text"
    cancel.set()
    rest = list(events)
    assert rest[-1].finish_reason == "cancelled"

    def queue():
        return httpx.get(f"{server.url}/healthz", timeout=5).json()["queue"]

    deadline = time.monotonic() + 30
    while queue()["running"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert queue() == {"running": 0, "waiting": 0, "size": 8}
