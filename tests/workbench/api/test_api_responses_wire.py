"""The Responses API and model aliases on the wire, without a model: the official openai and
anthropic SDKs over real HTTP on loopback against a scripted tool-calling backend.

`ScriptedToolBackend` is a real Backend: it echoes the last turn's words, or -- when a call
is forced -- calls the named (or first) tool with fixed arguments, and records every prompt it
was given, so the tests can check what history `previous_response_id` rebuilt.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field

import anthropic
import openai
import pytest
from api_harness import LiveServer, PacedEchoBackend

from app import parse_settings
from engine.events import Done, GenerationParams, Message, TextDelta, ToolCallDelta, Usage
from engine.embedded import embedded_gguf_path
from workbench.api import create_api_app
from workbench.config import DEFAULT_MODEL, Settings

MODEL = "scripted"
TOOL = {"type": "function", "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}
ARGS = '{"city": "Paris"}'


@dataclass
class ScriptedToolBackend:
    name: str = "local"
    model: str = MODEL
    context_window: int = 4096
    supports_tools: bool = True
    prompts: list = field(default_factory=list)

    def count_tokens(self, messages: list[Message], tools=()) -> int:
        return sum(3 + len(m.content.split()) for m in messages) + 20 * len(tools)

    def stream(self, messages, params: GenerationParams, cancel: threading.Event | None = None):
        self.prompts.append((list(messages), params))
        prompt = self.count_tokens(messages, params.tools)
        if params.tools and params.tool_choice not in ("auto", "none"):
            name = params.tools[0].name if params.tool_choice == "required" \
                else params.tool_choice
            yield ToolCallDelta(0, ARGS[:9], id="call_abc", name=name)
            yield ToolCallDelta(0, ARGS[9:])
            yield Usage(prompt, 7)
            yield Done("tool_calls")
            return
        words = messages[-1].content.split()[:params.max_new_tokens]
        for i, word in enumerate(words):
            yield TextDelta((" " if i else "") + word)
        yield Usage(prompt, len(words), cached_tokens=2)
        full = len(messages[-1].content.split()) > params.max_new_tokens
        yield Done("length" if full else "stop")


@pytest.fixture(scope="module")
def scripted():
    backend = ScriptedToolBackend()
    with LiveServer(create_api_app(Settings(model=MODEL), lambda: backend)) as live:
        live.backend = backend
        live.oai = openai.OpenAI(base_url=f"{live.url}/v1", api_key="x", max_retries=0)
        yield live


def test_plain_response_with_instructions(scripted):
    got = scripted.oai.responses.create(model=MODEL, input="hello out there",
                                        instructions="Be brief.", max_output_tokens=16)
    assert got.id.startswith("resp_") and got.object == "response"
    assert got.status == "completed" and got.model == MODEL and got.created_at > 0
    assert got.output_text == "hello out there"
    (item,) = got.output
    assert item.type == "message" and item.content[0].type == "output_text"
    assert item.content[0].annotations == []
    messages, params = scripted.backend.prompts[-1]
    assert messages == [Message("system", "Be brief."), Message("user", "hello out there")]
    assert params.max_new_tokens == 16
    assert got.usage.input_tokens == 3 + 2 + 3 + 3 and got.usage.output_tokens == 3
    assert got.usage.total_tokens == got.usage.input_tokens + 3
    assert got.usage.input_tokens_details.cached_tokens == 2


def test_max_output_tokens_cut_is_incomplete(scripted):
    got = scripted.oai.responses.create(model=MODEL, input="one two three four",
                                        max_output_tokens=2, temperature=0.5)
    assert got.status == "incomplete" and got.incomplete_details.reason == "max_output_tokens"
    assert got.output_text == "one two"
    assert scripted.backend.prompts[-1][1].temperature == 0.5


def test_streamed_text_events(scripted):
    events = list(scripted.oai.responses.create(
        model=MODEL, stream=True,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "a b c"}]}]))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[2:4] == ["response.output_item.added", "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "a b c" and len(deltas) == 3
    final = events[-1].response
    assert final.output_text == "a b c" and final.usage.output_tokens == 3
    assert scripted.oai.responses.retrieve(final.id).output_text == "a b c"


def test_forced_call_then_output_through_previous_response_id(scripted):
    first = scripted.oai.responses.create(
        model=MODEL, input="Weather in Paris?", tools=[TOOL],
        tool_choice={"type": "function", "name": "get_weather"})
    (call,) = first.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert call.call_id == "call_abc" and json.loads(call.arguments) == {"city": "Paris"}
    assert first.usage.input_tokens == 3 + 3 + 20  # the tool is counted
    second = scripted.oai.responses.create(
        model=MODEL, previous_response_id=first.id, tools=[TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id,
                "output": "sunny and warm"}])
    assert second.output_text == "sunny and warm"
    messages, params = scripted.backend.prompts[-1]
    assert params.tool_choice == "auto"
    assert [m.role for m in messages] == ["user", "assistant", "tool"]
    assert messages[1].tool_calls[0].id == "call_abc"
    assert messages[1].tool_calls[0].arguments == ARGS
    assert messages[2] == Message("tool", "sunny and warm", tool_call_id="call_abc",
                                  name="get_weather")


def test_streamed_function_call_events(scripted):
    events = list(scripted.oai.responses.create(
        model=MODEL, input="x", tools=[TOOL], tool_choice="required", stream=True))
    kinds = [e.type for e in events]
    assert kinds == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.function_call_arguments.delta",
                     "response.function_call_arguments.delta",
                     "response.function_call_arguments.done", "response.output_item.done",
                     "response.completed"]
    assert events[2].item.type == "function_call" and events[2].item.name == "get_weather"
    assert events[5].arguments == ARGS and events[6].item.call_id == "call_abc"
    assert events[-1].response.output[0].arguments == ARGS


def test_history_items_and_store_false(scripted):
    got = scripted.oai.responses.create(model=MODEL, store=False, input=[
        {"role": "developer", "content": "Rules."},
        {"role": "user", "content": "Weather?"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": ARGS},
        {"type": "function_call_output", "call_id": "c1", "output": "rain"},
        {"role": "user", "content": "so?"}])
    assert got.output_text == "so?"
    messages, _ = scripted.backend.prompts[-1]
    assert [m.role for m in messages] == ["system", "user", "assistant", "tool", "user"]
    assert messages[3].name == "get_weather"
    with pytest.raises(openai.BadRequestError) as err:
        scripted.oai.responses.create(model=MODEL, input="again",
                                      previous_response_id=got.id)
    assert err.value.code == "previous_response_not_found"
    assert err.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        scripted.oai.responses.retrieve(got.id)


@pytest.mark.parametrize("body, param, words", [
    ({"input": "x", "tools": [{"type": "web_search"}]}, "tools[0]", "not supported"),
    ({"input": [{"type": "image_generation_call"}]}, "input[0]", "not supported"),
    ({"input": "x", "tool_choice": "required"}, "tool_choice", "needs tools"),
    ({"input": []}, "input", "input is empty"),
    ({"input": "x", "text": {"format": {"type": "json_schema", "name": "r"}}}, "text.format",
     "needs a schema"),
])
def test_requests_that_cannot_be_honoured_are_400(scripted, http, body, param, words):
    before = len(scripted.backend.prompts)
    r = http.post(f"{scripted.url}/v1/responses", json={"model": MODEL, **body})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param and words in r.json()["error"]["message"]
    assert len(scripted.backend.prompts) == before


def test_claude_names_mean_the_served_model_on_both_protocols(http):
    backend = PacedEchoBackend()
    with LiveServer(create_api_app(Settings(model="paced-echo"), lambda: backend)) as live:
        claude = anthropic.Anthropic(base_url=live.url, api_key="x", max_retries=0)
        got = claude.messages.create(model="claude-opus-4-8[1m]", max_tokens=8,
                                     messages=[{"role": "user", "content": "hi there"}])
        assert got.model == "claude-opus-4-8[1m]" and got.content[0].text == "hi there"
        counted = claude.messages.count_tokens(model="claude-sonnet-4-5",
                                               messages=[{"role": "user", "content": "a b"}])
        assert counted.input_tokens == 5
        oai = openai.OpenAI(base_url=f"{live.url}/v1", api_key="x", max_retries=0)
        chat = oai.chat.completions.create(model="Claude-3-Haiku", max_tokens=4,
                                           messages=[{"role": "user", "content": "yo"}])
        assert chat.model == "Claude-3-Haiku" and chat.choices[0].message.content == "yo"
        card = claude.models.retrieve("claude-opus-4-8[1m]")
        assert card.id == "claude-opus-4-8[1m]"
        r = http.post(f"{live.url}/v1/chat/completions", json={
            "model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 404 and "paced-echo" in r.json()["error"]["message"]


def test_configured_aliases_pick_their_target(http):
    backend = PacedEchoBackend()
    settings = Settings(model="paced-echo", alias=("claude-sonnet=elsewhere",
                                                   "claude-sonnet-4-5=paced-echo"))
    with LiveServer(create_api_app(settings, lambda: backend)) as live:
        def ask(model):
            return http.post(f"{live.url}/v1/messages", json={
                "model": model, "max_tokens": 4, "messages": [{"role": "user",
                                                               "content": "ok"}]})
        assert ask("claude-sonnet-4-5-20250929").json()["model"] == "claude-sonnet-4-5-20250929"
        refused = ask("claude-sonnet-3-7")  # the shorter alias: a model not served here
        message = refused.json()["error"]["message"]
        assert refused.status_code == 404 and "of 'elsewhere', which is not served" in message
        assert ask("claude-haiku-4-5").status_code == 200  # no alias: the served model


def test_alias_flags_and_environment():
    flags = parse_settings(["--alias", "claude-sonnet=a", "--alias", "claude-opus = b"], env={})
    assert flags.alias == ("claude-sonnet=a", "claude-opus=b")
    env = parse_settings([], env={"LONGHAND_ALIAS": "claude-sonnet=a,claude-haiku=c"})
    assert env.alias == ("claude-sonnet=a", "claude-haiku=c")
    with pytest.raises(SystemExit):
        parse_settings(["--alias", "claude-sonnet"], env={})


def test_models_carry_a_real_creation_time(http):
    with LiveServer(create_api_app(Settings(), lambda: PacedEchoBackend())) as live:
        first = http.get(f"{live.url}/v1/models").json()["data"][0]
        again = http.get(f"{live.url}/v1/models/{DEFAULT_MODEL}").json()
    assert first["created"] == int(os.stat(embedded_gguf_path()).st_mtime) > 0
    assert again["created"] == first["created"] and first["max_input_tokens"] == 8192
    assert first["created_at"].endswith("Z") and first["created_at"][:2] in ("19", "20")
    assert first["created_at"] != "1970-01-01T00:00:00Z"


def test_the_sdks_stream_helper_accumulates_text_and_calls(scripted):
    """`responses.stream()` rebuilds the response from the events alone, so it checks them."""
    with scripted.oai.responses.stream(model=MODEL, input="a b c") as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(texts) == "a b c"
    with scripted.oai.responses.stream(model=MODEL, input="x", tools=[TOOL],
                                       tool_choice="required") as stream:
        final = stream.get_final_response()
    (call,) = final.output
    assert call.type == "function_call" and call.arguments == ARGS
    assert call.call_id == "call_abc" and call.status == "completed"


def test_thinking_comes_first_as_a_reasoning_item():
    backend = PacedEchoBackend(context_window=256)
    with LiveServer(create_api_app(Settings(model="paced-echo"), lambda: backend)) as live:
        oai = openai.OpenAI(base_url=f"{live.url}/v1", api_key="x", max_retries=0)
        got = oai.responses.create(model="paced-echo", input="red green",
                                   reasoning={"effort": "medium"})
        assert [i.type for i in got.output] == ["reasoning", "message"]
        assert got.output[0].content[0].text == "echoing 2 words"
        assert got.output_text == "red green"
        with oai.responses.stream(model="paced-echo", input="red green",
                                  reasoning={"effort": "low"}) as stream:
            kinds = [e.type for e in stream]
            final = stream.get_final_response()
        assert "response.reasoning_text.delta" in kinds
        assert kinds.index("response.reasoning_text.done") < kinds.index(
            "response.output_text.delta")
        assert [i.type for i in final.output] == ["reasoning", "message"]
        assert final.output[0].content[0].text == "echoing 2 words"
        assert final.output_text == "red green"
        plain = oai.responses.create(model="paced-echo", input="red green")
        assert [i.type for i in plain.output] == ["message"]
