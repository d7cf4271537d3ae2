"""Remote backends without a server: validation, clear errors, and the window rules."""
from __future__ import annotations

import socket
import warnings

import pytest
from embedded_cache import shared_cache_dir

from engine.backends.anthropic import AnthropicBackend
from engine.backends.protocol import Backend
from engine.events import GenerationParams, Message
from engine.backends.factory import make_backend
from engine.backends.openai_compat import OpenAICompatBackend
from engine.backends.server_info import choose_window, window_from_entry
from engine.errors import BackendUnavailable, EngineError
from engine.models import RetiredModelName

HI = [Message("user", "hi")]


@pytest.fixture
def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    return f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize("cls", [OpenAICompatBackend, AnthropicBackend])
def test_constructor_validation(cls):
    with pytest.raises(EngineError, match="base_url"):
        cls("m", "localhost:8000")
    with pytest.raises(EngineError, match="model name"):
        cls(" ", "http://127.0.0.1:8000/v1")
    with pytest.raises(EngineError, match="positive"):
        cls("m", "http://127.0.0.1:8000/v1", context_window=0)


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_unreachable_server_is_a_clear_error(protocol, closed_port_url):
    port = closed_port_url.split(":")[2].split("/")[0]
    with pytest.raises(BackendUnavailable, match=f"cannot reach the server.*{port}"):
        make_backend("some-model", cache_dir="unused", base_url=closed_port_url,
                     protocol=protocol, context_window=4096)  # the window is asked first
    backend = make_backend("some-model", cache_dir=shared_cache_dir(), base_url=closed_port_url,
                           protocol=protocol, context_window=4096, probe=False)
    assert isinstance(backend, Backend) and backend.context_window == 4096
    with pytest.raises(BackendUnavailable, match=f"cannot reach the server.*{port}"):
        list(backend.stream(HI, GenerationParams(max_new_tokens=4)))
    if protocol == "anthropic":
        with pytest.raises(BackendUnavailable, match="cannot reach"):
            backend.count_tokens(HI)
    else:  # OpenAI servers cannot count: the embedded tokenizer estimates, never an error
        assert backend.count_tokens(HI) > 0
        assert "estimate" in backend.count_estimate


def test_factory_maps_retired_names_and_protocols(closed_port_url):
    with pytest.warns(RetiredModelName):
        backend = make_backend("deepseek-reasoner", cache_dir="unused",
                               base_url=closed_port_url, probe=False)
    assert backend.model == "deepseek-v4-flash" and backend.force_thinking is True
    assert backend.context_window == 1_048_576  # the registry's published window
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        other = make_backend("llama3:8b", cache_dir="unused", base_url=closed_port_url,
                             protocol="anthropic", context_window=8192, probe=False)
    assert isinstance(other, AnthropicBackend) and other.force_thinking is None
    with pytest.raises(EngineError, match="unknown protocol"):
        make_backend("m", cache_dir="unused", base_url=closed_port_url, protocol="grpc")
    with pytest.raises(EngineError, match="is unknown"):  # no server word, no configuration
        make_backend("llama3:8b", cache_dir="unused", base_url=closed_port_url, probe=False)
    with pytest.raises(EngineError, match="needs a base_url"):
        make_backend("m", cache_dir="unused", protocol="anthropic")


def test_window_comes_from_the_server_entry_or_configuration():
    assert window_from_entry({"id": "m", "max_model_len": 32768}) == 32768  # vLLM
    assert window_from_entry({"id": "m", "meta": {"n_ctx_train": 8192}}) == 8192  # llama.cpp
    assert window_from_entry({"id": "m", "context_length": 131072}) == 131072  # LM Studio
    assert window_from_entry({"id": "m", "max_input_tokens": 200000}) == 200000  # Anthropic
    assert window_from_entry({"id": "m", "owned_by": "x", "flag": True}) is None
    assert choose_window(8192, 4096, "m", "u") == 8192  # the server's word wins
    assert choose_window(None, 4096, "m", "u") == 4096
    with pytest.raises(EngineError, match="context window of 'm' at u is unknown"):
        choose_window(None, None, "m", "u")
