"""Tool-call formats: each family's parser on what its models write, the stream extractor, and
the rendering of tools and calls into chat-template messages (the Hermes fallback included).

Model outputs: SMOLLM_135M is what the embedded SmolLM2-135M-Instruct wrote for a forced
get_weather call (greedy, recorded from engine/tools through LocalBackend); QWEN25 is the
two-call answer from Qwen's function-calling guide (qwen.readthedocs.io, "Function Calling",
Hermes-style template); SMOLLM2_17B_LIST is the list form of SmolLM2-1.7B-Instruct's card;
LLAMA31 answers are from Meta's Llama 3.1 prompt-format guide (JSON-based tool calling).
"""
from __future__ import annotations

import json

from engine.events import (Done, Message, TextDelta, ToolCall, ToolCallDelta, ToolSpec,
                                  Usage, collect)
from engine.tools import formats, hermes, llama3, render
from engine.tools.extract import forced_call_events, tool_call_events

SMOLLM_135M = ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", '
               '"unit": "celsius"}}\n</tool_call>')
QWEN25 = ('<tool_call>\n{"name": "get_current_temperature", "arguments": {"location": '
          '"San Francisco, CA, USA"}}\n</tool_call>\n<tool_call>\n{"name": '
          '"get_temperature_date", "arguments": {"location": "San Francisco, CA, USA", '
          '"date": "2024-10-01"}}\n</tool_call>')
SMOLLM2_17B_LIST = ('<tool_call>[\n{"name": "get_weather", "arguments": {"city": "Paris"}},\n'
                    '{"name": "get_time", "arguments": {"city": "Paris"}}\n]</tool_call>')
LLAMA31 = '{"name": "get_current_conditions", "parameters": {"location": "San Francisco, CA", '\
          '"unit": "Fahrenheit"}}'
LLAMA31_TAGGED = '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Oslo"}}; ' \
                 '{"name": "get_time", "parameters": {"city": "Oslo"}}'
WEATHER = ToolSpec("get_weather", "Weather in a city",
                   {"type": "object", "properties": {"city": {"type": "string"}}})


def test_hermes_reads_single_multiple_and_list_calls():
    assert hermes.parse(SMOLLM_135M) == ("", [("get_weather",
                                               {"city": "Paris", "unit": "celsius"})])
    rest, calls = hermes.parse(QWEN25)
    assert rest == "" and [c[0] for c in calls] == ["get_current_temperature",
                                                    "get_temperature_date"]
    assert calls[1][1]["date"] == "2024-10-01"
    assert [c[0] for c in hermes.parse(SMOLLM2_17B_LIST)[1]] == ["get_weather", "get_time"]


def test_hermes_keeps_surrounding_text_and_reads_an_unclosed_last_call():
    text = "Let me check.\n" + SMOLLM_135M[:-len(hermes.CLOSE)]
    assert hermes.parse(text) == ("Let me check.", [("get_weather",
                                                     {"city": "Paris", "unit": "celsius"})])


def test_hermes_refuses_what_is_not_a_call():
    assert hermes.parse("no calls here") is None
    assert hermes.parse('<tool_call>\n{"name": "get_weather", "arguments": {"city": ') is None
    assert hermes.parse('<tool_call>{"arguments": {}}</tool_call>') is None
    assert hermes.parse('<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call>') \
        == ("", [("f", {"a": 1})])  # double-encoded arguments are read


def test_llama3_reads_bare_and_tagged_calls():
    assert llama3.parse(LLAMA31) == ("", [("get_current_conditions",
                                           {"location": "San Francisco, CA",
                                            "unit": "Fahrenheit"})])
    assert [c[0] for c in llama3.parse(LLAMA31_TAGGED)[1]] == ["get_weather", "get_time"]
    assert llama3.parse("The weather is fine.") is None
    assert llama3.parse('{"name": "f"}') is None


def test_format_follows_the_template():
    assert formats.format_for(None) is hermes
    assert formats.format_for("{{ messages }}") is hermes  # no tools: the Hermes fallback
    assert formats.format_for("{% if tools %}<tool_call>{% endif %}") is hermes
    assert formats.format_for("{% if tools %}<|python_tag|>ipython{% endif %}") is llama3


def _stream(pieces, finish="stop"):
    for piece in pieces:
        yield TextDelta(piece)
    yield Usage(10, len(pieces))
    yield Done(finish)


def test_extractor_turns_a_split_marker_into_calls_with_ids():
    pieces = ["Sure. <tool", "_call>\n{\"name\": \"get_wea", "ther\", \"arguments\": ",
              "{\"city\": \"Paris\"}}\n</tool_call>"]
    events = list(tool_call_events(_stream(pieces), hermes))
    assert events[0] == TextDelta("Sure. ")
    call = next(e for e in events if isinstance(e, ToolCallDelta))
    assert call.index == 0 and call.id.startswith("call_") and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert isinstance(events[-2], Usage) and events[-1] == Done("tool_calls")
    done = collect(iter(events))
    assert done.finish_reason == "tool_calls" and done.tool_calls[0].name == "get_weather"


def test_extractor_passes_text_and_broken_calls_on_unchanged():
    plain = collect(tool_call_events(_stream(["It is ", "sunny <", "b>today</b>"]), hermes))
    assert plain.text == "It is sunny <b>today</b>" and plain.finish_reason == "stop"
    broken = collect(tool_call_events(_stream(["<tool_call>{\"name\": \"x\", "], "length"),
                                      hermes))
    assert broken.text == "<tool_call>{\"name\": \"x\", " and broken.finish_reason == "length"
    assert broken.tool_calls == []


def test_extractor_keeps_one_call_when_parallel_calls_are_off():
    done = collect(tool_call_events(_stream([QWEN25]), hermes, parallel=False))
    assert [c.name for c in done.tool_calls] == ["get_current_temperature"]


HISTORY = [Message("system", "Be brief."), Message("user", "Weather in Paris?"),
           Message("assistant", "", tool_calls=(ToolCall("call_1", "get_weather",
                                                         '{"city": "Paris"}'),)),
           Message("tool", "18C", tool_call_id="call_1", name="get_weather"),
           Message("tool", "no data", tool_call_id="call_2", is_error=True)]


def test_fallback_puts_tools_in_the_system_prompt_and_calls_in_text():
    chat = render.fallback_chat(HISTORY, (WEATHER,))
    assert [t["role"] for t in chat] == ["system", "user", "assistant", "user"]
    assert chat[0]["content"].startswith("Be brief.\n\n# Tools")
    assert json.dumps(render.tool_dicts((WEATHER,))[0]) in chat[0]["content"]
    assert hermes.parse(chat[2]["content"]) == ("", [("get_weather", {"city": "Paris"})])
    assert chat[3]["content"] == ("<tool_response>\n18C\n</tool_response>\n"
                                  "<tool_response> (error)\nno data\n</tool_response>")
    assert render.fallback_chat([Message("user", "hi")], (WEATHER,))[0]["content"] \
        .startswith(render.DEFAULT_SYSTEM)


def test_native_chat_follows_transformers_convention():
    chat = render.native_chat(HISTORY)
    assert chat[2]["tool_calls"] == [{"id": "call_1", "type": "function", "function": {
        "name": "get_weather", "arguments": {"city": "Paris"}}}]
    assert chat[3] == {"role": "tool", "content": "18C", "tool_call_id": "call_1",
                       "name": "get_weather"}


def test_a_forced_call_streams_its_arguments_as_they_are_written():
    pieces = ["<tool", "_call>\n{\"name\": \"get_", "weather\", \"arguments\": {\"ci",
              "ty\": \"Par", "is\"}}\n</tool_", "call>"]
    events = list(forced_call_events(_stream(pieces), hermes))
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls[0].id.startswith("call_") and calls[0].name == "get_weather"
    assert all(c.index == 0 for c in calls) and all(c.id is None for c in calls[1:])
    assert len(calls) >= 3  # the arguments came in pieces, not at the end
    assert "".join(c.arguments for c in calls) == '{"city": "Paris"}'
    assert not any(isinstance(e, TextDelta) for e in events)
    assert isinstance(events[-2], Usage) and events[-1] == Done("tool_calls")
    llama = collect(forced_call_events(_stream(['{"name": "f", "parameters": {"a": 1}}']),
                                       llama3))
    assert llama.tool_calls[0].name == "f" and llama.tool_calls[0].arguments == '{"a": 1}'


def test_a_forced_call_cut_by_max_tokens_says_so():
    before_name = collect(forced_call_events(_stream(["<tool_call>\n{\"na"], "length"),
                                             hermes))
    assert before_name.text == "<tool_call>\n{\"na" and before_name.tool_calls == []
    mid = collect(forced_call_events(_stream([SMOLLM_135M[:60]], "length"), hermes))
    assert mid.finish_reason == "length" and mid.tool_calls[0].name == "get_weather"
    assert mid.tool_calls[0].arguments == SMOLLM_135M[SMOLLM_135M.index('{"city"'):60]
