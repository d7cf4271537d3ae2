"""The Responses API and Claude aliases through the official SDKs on the embedded default.

A live server on loopback serves the real SmolLM2-135M-Instruct: `responses.create` plain and
streamed; a forced function call whose arguments validate against the schema, then its
`function_call_output` through `previous_response_id` giving a text answer; and the
Anthropic SDK asking for `claude-opus-4-8[1m]` (what Claude Code sends when no model is set).
"""
from __future__ import annotations

import json
import time

import anthropic
import jsonschema
import openai
import pytest
from api_harness import LiveServer
from embedded_cache import shared_cache_dir

from engine.backends.factory import make_backend
from workbench.api import create_api_app
from workbench.config import DEFAULT_MODEL, Settings

pytestmark = pytest.mark.slow

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL = {"type": "function", "name": "get_weather", "description": "Get the weather in a city",
        "parameters": SCHEMA}
TOKENS = 16


@pytest.fixture(scope="module")
def server():
    backend = make_backend(DEFAULT_MODEL, cache_dir=shared_cache_dir())
    with LiveServer(create_api_app(Settings(), lambda: backend)) as live:
        yield live


@pytest.fixture(scope="module")
def oai(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                         timeout=300)


def test_plain_and_streamed_response(oai):
    started = time.perf_counter()
    got = oai.responses.create(model=DEFAULT_MODEL, input="Name a colour.",
                               instructions="Answer in one word.", max_output_tokens=TOKENS)
    print(f"plain: {got.usage.input_tokens} in, {got.usage.output_tokens} out, "
          f"{time.perf_counter() - started:.2f} s")
    assert got.status in ("completed", "incomplete") and got.output_text.strip()
    assert 0 < got.usage.output_tokens <= TOKENS and got.usage.input_tokens > 10
    events = list(oai.responses.create(model=DEFAULT_MODEL, input="Name a colour.",
                                       instructions="Answer in one word.",
                                       max_output_tokens=TOKENS, stream=True))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = events[-1]
    assert final.type in ("response.completed", "response.incomplete")
    assert deltas == final.response.output_text == got.output_text  # greedy: the same text


def test_forced_call_then_output_gives_an_answer(oai):
    started = time.perf_counter()
    first = oai.responses.create(model=DEFAULT_MODEL, input="What is the weather in Paris?",
                                 tools=[TOOL], max_output_tokens=64,
                                 tool_choice={"type": "function", "name": "get_weather"})
    print(f"forced call: {first.usage.input_tokens} in, {first.usage.output_tokens} out, "
          f"{time.perf_counter() - started:.2f} s")
    (call,) = [i for i in first.output if i.type == "function_call"]
    assert call.name == "get_weather" and call.call_id.startswith("call_")
    jsonschema.validate(json.loads(call.arguments), SCHEMA)
    second = oai.responses.create(
        model=DEFAULT_MODEL, previous_response_id=first.id, tools=[TOOL],
        max_output_tokens=TOKENS,
        input=[{"type": "function_call_output", "call_id": call.call_id,
                "output": '{"temperature": 18, "sky": "sunny"}'}])
    assert second.usage.input_tokens > first.usage.input_tokens  # the call and result went in
    assert second.output_text.strip()
    assert not [i for i in second.output if i.type == "function_call"]


def test_claude_code_default_name_is_served(server):
    claude = anthropic.Anthropic(base_url=server.url, api_key="unused", max_retries=0,
                                 timeout=300)
    got = claude.messages.create(model="claude-opus-4-8[1m]", max_tokens=TOKENS,
                                 messages=[{"role": "user", "content": "Say hello."}])
    assert got.model == "claude-opus-4-8[1m]" and got.content[0].text.strip()
    assert 0 < got.usage.output_tokens <= TOKENS
