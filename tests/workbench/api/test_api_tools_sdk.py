"""Tool calling and structured output through the official SDKs on the embedded default model.

A live server on loopback serves the real SmolLM2-135M-Instruct (its template knows no tools,
so the Hermes fallback prompts it). A forced call must come back as a structured call whose
arguments validate against the tool's JSON Schema, on both protocols, streamed and not; the
tool's result must go back in and produce an answer; `parse()` must return a model instance.
"""
from __future__ import annotations

import json

import anthropic
import jsonschema
import openai
import pytest
from api_harness import LiveServer
from embedded_cache import shared_cache_dir
from pydantic import BaseModel

from engine.backends.factory import make_backend
from workbench.api import create_api_app
from workbench.config import DEFAULT_MODEL, Settings

pytestmark = pytest.mark.slow

WEATHER_SCHEMA = {"type": "object",
                  "properties": {"city": {"type": "string"},
                                 "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                  "required": ["city", "unit"]}
OAI_TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": WEATHER_SCHEMA}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Get the local time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]
CLAUDE_TOOLS = [{"name": t["function"]["name"], "description": t["function"]["description"],
                 "input_schema": t["function"]["parameters"]} for t in OAI_TOOLS]
QUESTION = "What is the weather in Paris?"
RESULT = '{"temperature": 18, "unit": "celsius", "sky": "sunny"}'
ANSWER_TOKENS = 12


@pytest.fixture(scope="module")
def server():
    backend = make_backend(DEFAULT_MODEL, cache_dir=shared_cache_dir())
    with LiveServer(create_api_app(Settings(), lambda: backend)) as live:
        yield live


@pytest.fixture(scope="module")
def oai(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                         timeout=300)


@pytest.fixture(scope="module")
def claude(server):
    return anthropic.Anthropic(base_url=server.url, api_key="unused", max_retries=0,
                               timeout=300)


def test_openai_forced_call_then_result_then_answer(oai):
    messages = [{"role": "user", "content": QUESTION}]
    first = oai.chat.completions.create(
        model=DEFAULT_MODEL, messages=messages, tools=OAI_TOOLS, max_tokens=200,
        tool_choice={"type": "function", "function": {"name": "get_weather"}})
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, WEATHER_SCHEMA)
    plain = oai.chat.completions.create(model=DEFAULT_MODEL, messages=messages, max_tokens=1)
    assert first.usage.prompt_tokens > plain.usage.prompt_tokens + 100  # tools are rendered

    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": RESULT}]
    second = oai.chat.completions.create(model=DEFAULT_MODEL, messages=messages,
                                         tools=OAI_TOOLS, max_tokens=ANSWER_TOKENS)
    assert second.usage.prompt_tokens > first.usage.prompt_tokens  # call + result in history
    answer = second.choices[0]
    assert answer.finish_reason in ("stop", "length") and answer.message.content.strip()
    assert not answer.message.tool_calls


def test_openai_streamed_required_call_carries_index_and_id_on_first_delta(oai):
    stream = oai.chat.completions.create(
        model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Time in Tokyo?"}],
        tools=OAI_TOOLS, tool_choice="required", max_tokens=200, stream=True,
        parallel_tool_calls=False)
    deltas, finish = [], None
    for chunk in stream:
        for c in chunk.choices:
            deltas += c.delta.tool_calls or []
            finish = c.finish_reason or finish
    assert finish == "tool_calls" and deltas
    assert all(d.index == 0 for d in deltas)
    assert deltas[0].id.startswith("call_") and deltas[0].function.name in ("get_weather",
                                                                            "get_time")
    assert all(d.id is None and d.function.name is None for d in deltas[1:])
    arguments = json.loads("".join(d.function.arguments or "" for d in deltas))
    schema = next(t["function"]["parameters"] for t in OAI_TOOLS
                  if t["function"]["name"] == deltas[0].function.name)
    jsonschema.validate(arguments, schema)


def test_openai_parse_returns_the_pydantic_model(oai):
    class City(BaseModel):
        name: str
        country: str
        population: int

    got = oai.chat.completions.parse(
        model=DEFAULT_MODEL, response_format=City, max_tokens=80,
        messages=[{"role": "user", "content": "Paris as JSON with name, country and "
                                              "population."}])
    city = got.choices[0].message.parsed
    assert isinstance(city, City) and city.name and city.population > 0
    json_object = oai.chat.completions.create(
        model=DEFAULT_MODEL, response_format={"type": "json_object"}, max_tokens=40,
        messages=[{"role": "user", "content": "Give me a JSON object about a cat."}])
    if json_object.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(json_object.choices[0].message.content), dict)
    else:
        assert json_object.choices[0].message.content.startswith("{")


def test_anthropic_forced_call_then_result_then_answer(claude):
    messages = [{"role": "user", "content": QUESTION}]
    first = claude.messages.create(model=DEFAULT_MODEL, max_tokens=32000, messages=messages,
                                   tools=CLAUDE_TOOLS, tool_choice={"type": "any"})
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name in ("get_weather", "get_time")
    jsonschema.validate(uses[0].input, next(t["input_schema"] for t in CLAUDE_TOOLS
                                            if t["name"] == uses[0].name))
    counted = claude.messages.count_tokens(model=DEFAULT_MODEL, messages=messages,
                                           tools=CLAUDE_TOOLS).input_tokens
    assert counted == first.usage.input_tokens
    assert counted > claude.messages.count_tokens(model=DEFAULT_MODEL,
                                                  messages=messages).input_tokens + 100

    messages += [{"role": "assistant", "content": [b.model_dump() for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id,
                                               "content": [{"type": "text", "text": RESULT}]}]}]
    second = claude.messages.create(model=DEFAULT_MODEL, max_tokens=ANSWER_TOKENS,
                                    messages=messages, tools=CLAUDE_TOOLS)
    assert second.stop_reason in ("end_turn", "max_tokens")
    assert second.content[0].type == "text" and second.content[0].text.strip()
    assert second.usage.input_tokens > first.usage.input_tokens


def test_anthropic_streamed_named_call_and_error_result(claude):
    messages = [{"role": "user", "content": "Weather in Oslo, please."}]
    with claude.messages.stream(model=DEFAULT_MODEL, max_tokens=200, messages=messages,
                                tools=CLAUDE_TOOLS,
                                tool_choice={"type": "tool", "name": "get_weather",
                                             "disable_parallel_tool_use": True}) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    (use,) = [b for b in final.content if b.type == "tool_use"]
    assert use.name == "get_weather" and use.id.startswith("call_")
    jsonschema.validate(use.input, WEATHER_SCHEMA)
    assert "input_json" in events and events.index("content_block_start") < \
        events.index("input_json") < events.index("content_block_stop")

    messages += [{"role": "assistant", "content": [use.model_dump()]},
                 {"role": "user", "content": [
                     {"type": "tool_result", "tool_use_id": use.id, "is_error": True,
                      "content": "weather service unavailable"},
                     {"type": "text", "text": "Tell me what happened."}]}]
    with claude.messages.stream(model=DEFAULT_MODEL, max_tokens=ANSWER_TOKENS,
                                messages=messages, tools=CLAUDE_TOOLS) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.strip() and final.stop_reason in ("end_turn", "max_tokens")


CLAUDE_CODE_TOOLS = [
    {"name": "Bash", "description": "Run a shell command", "eager_input_streaming": True,
     "input_schema": {"type": "object", "properties": {"command": {"type": "string"}},
                      "required": ["command"]}},
    {"name": "Read", "description": "Read a file", "input_schema": {
        "type": "object", "properties": {"file_path": {"type": "string"}},
        "required": ["file_path"]}}]


def test_a_claude_code_shaped_first_request_streams(server):
    """The shape ../shared/research/CLIENTS_AND_HOSTING.md section 6 recorded: `?beta=true`,
    beta headers, max_tokens 32000 on an 8,192 window, adaptive thinking, a system turn inside
    messages, cache_control and unknown fields -- answered, never refused."""
    import httpx

    body = {"model": DEFAULT_MODEL, "max_tokens": 32000, "stream": True,
            "thinking": {"type": "adaptive"}, "metadata": {"user_id": "u"},
            "context_management": {"edits": []}, "output_config": {"effort": "medium"},
            "system": [{"type": "text", "text": "x-anthropic-billing-header: cch=1;"},
                       {"type": "text", "text": "You are Claude Code.",
                        "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello"}]},
                         {"role": "system", "content": "Agents: none."}],
            "tools": CLAUDE_CODE_TOOLS}
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "x", "x-app": "cli",
               "anthropic-beta": "claude-code-20250219,context-management-2025-06-27"}
    events = []
    with httpx.stream("POST", f"{server.url}/v1/messages?beta=true", json=body,
                      headers=headers, timeout=300) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if line.startswith("event: "):
                events.append(line[7:])
            if events.count("content_block_delta") >= 100 or events[-1:] == ["message_stop"]:
                break  # a model that rambles on this CPU: the answer is running, not refused
    assert events[:3] == ["message_start", "ping", "content_block_start"]
    assert "content_block_delta" in events and "error" not in events
