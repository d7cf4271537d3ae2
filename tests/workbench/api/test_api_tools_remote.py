"""Tools through the remote backends, against our own API serving the embedded default.

Server A runs SmolLM2-135M locally. The openai_compat and anthropic backends call A's tools
exactly as they would call DeepSeek's or Anthropic's, and must return the same structured
call the local backend makes (greedy), then carry its result back. Server B serves A through
an OpenAICompatBackend, so an Anthropic client's tool_use travels over OpenAI tool_calls and
back with its id kept.
"""
from __future__ import annotations

import json

import anthropic
import pytest
from api_harness import LiveServer
from embedded_cache import shared_cache_dir

from engine.backends.anthropic import AnthropicBackend
from engine.events import GenerationParams, Message, ToolSpec, collect
from engine.backends.factory import make_backend
from engine.backends.openai_compat import OpenAICompatBackend
from engine.tokens import TokenCounter
from workbench.api import create_api_app
from workbench.config import DEFAULT_MODEL, Settings

pytestmark = pytest.mark.slow

WEATHER = ToolSpec("get_weather", "Weather in a city", {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
ASK = [Message("user", "What is the weather in Rome?")]
FORCED = GenerationParams(max_new_tokens=60, tools=(WEATHER,), tool_choice="get_weather")


@pytest.fixture(scope="module")
def local():
    return make_backend(DEFAULT_MODEL, cache_dir=shared_cache_dir())


@pytest.fixture(scope="module")
def server(local):
    with LiveServer(create_api_app(Settings(), lambda: local)) as live:
        yield live


@pytest.fixture(scope="module")
def remotes(server):
    counter = TokenCounter.for_embedded(shared_cache_dir())
    return {"openai": OpenAICompatBackend(DEFAULT_MODEL, f"{server.url}/v1", "k",
                                          counter=counter),
            "anthropic": AnthropicBackend(DEFAULT_MODEL, server.url, "k")}


@pytest.fixture(scope="module")
def reference(local):
    return collect(local.stream(ASK, FORCED))


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_remote_forced_call_equals_the_local_one_and_the_result_goes_back(kind, remotes,
                                                                          reference):
    remote = remotes[kind]
    got = collect(remote.stream(ASK, FORCED))
    assert got.finish_reason == "tool_calls", got
    (call,) = got.tool_calls
    assert call.name == "get_weather" and call.id.startswith("call_")
    assert json.loads(call.arguments) == json.loads(reference.tool_calls[0].arguments)
    history = ASK + [Message("assistant", "", tool_calls=(call,)),
                     Message("tool", '{"sky": "clear"}', tool_call_id=call.id,
                             name="get_weather")]
    answer = collect(remote.stream(history, GenerationParams(max_new_tokens=6,
                                                             tools=(WEATHER,))))
    assert answer.error is None and answer.text.strip() and not answer.tool_calls
    assert answer.usage.prompt_tokens > got.usage.prompt_tokens
    if kind == "anthropic":
        assert remote.count_tokens(ASK, tools=(WEATHER,)) == got.usage.prompt_tokens


def test_anthropic_client_over_an_openai_compatible_remote(server):
    front = OpenAICompatBackend(DEFAULT_MODEL, f"{server.url}/v1", "k",
                                counter=TokenCounter.for_embedded(shared_cache_dir()))
    with LiveServer(create_api_app(Settings(), lambda: front)) as proxy:
        client = anthropic.Anthropic(base_url=proxy.url, api_key="k", max_retries=0,
                                     timeout=300)
        tools = [{"name": WEATHER.name, "description": WEATHER.description,
                  "input_schema": WEATHER.parameters}]
        first = client.messages.create(model=DEFAULT_MODEL, max_tokens=60, tools=tools,
                                       tool_choice={"type": "any"},
                                       messages=[{"role": "user", "content": ASK[0].content}])
        assert first.stop_reason == "tool_use"
        (use,) = [b for b in first.content if b.type == "tool_use"]
        assert use.name == "get_weather" and isinstance(use.input.get("city"), str)
        second = client.messages.create(
            model=DEFAULT_MODEL, max_tokens=6, tools=tools, messages=[
                {"role": "user", "content": ASK[0].content},
                {"role": "assistant", "content": [use.model_dump()]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                              "content": '{"sky": "clear"}'}]}])
        assert second.content[0].type == "text" and second.content[0].text.strip()
