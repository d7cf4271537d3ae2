"""Forced tool calls and structured output on the embedded SmolLM2-135M through LocalBackend.

The grammar mask (llguidance) must make every forced answer a call whose arguments validate
against the tool's JSON Schema -- also when sampling at temperature 1, where only the mask
stands between a 135M model and invalid JSON -- and must not be cut by a stop string.
"""
from __future__ import annotations

import json

import jsonschema
import pytest
from embedded_cache import shared_cache_dir

from engine.events import GenerationParams, Message, ToolSpec, collect
from engine.backends.factory import make_backend
from workbench.config import DEFAULT_MODEL

pytestmark = pytest.mark.slow

BOOKING = ToolSpec("book_table", "Book a restaurant table", {
    "type": "object",
    "properties": {
        "restaurant": {"type": "string"},
        "guests": {"type": "integer", "minimum": 1, "maximum": 12},
        "outdoor": {"type": "boolean"},
        "dishes": {"type": "array", "items": {"enum": ["soup", "fish", "cake"]},
                   "maxItems": 3},
        "when": {"type": "object", "properties": {"day": {"type": "string"},
                                                  "hour": {"type": "integer", "minimum": 0,
                                                           "maximum": 23}},
                 "required": ["day", "hour"], "additionalProperties": False}},
    "required": ["restaurant", "guests", "outdoor", "dishes", "when"],
    "additionalProperties": False})
WEATHER = ToolSpec("get_weather", "Weather in a city", {
    "type": "object", "properties": {"city": {"type": "string", "maxLength": 40}},
    "required": ["city"]})
ASK = [Message("user", "Book a table for four at Chez Anna on Friday at 8pm, outside, "
                       "with soup and cake.")]


@pytest.fixture(scope="module")
def backend():
    return make_backend(DEFAULT_MODEL, cache_dir=shared_cache_dir())


def _only_call(done, tool: ToolSpec) -> dict:
    assert done.finish_reason == "tool_calls", done
    (call,) = done.tool_calls
    assert call.name == tool.name and call.id.startswith("call_")
    arguments = json.loads(call.arguments)
    jsonschema.validate(arguments, tool.parameters)
    return arguments


def test_named_call_validates_against_a_nested_schema_despite_stop_strings(backend):
    done = collect(backend.stream(ASK, GenerationParams(
        max_new_tokens=160, tools=(WEATHER, BOOKING), tool_choice="book_table",
        stop=('"', "}"))))
    arguments = _only_call(done, BOOKING)
    assert done.text == "" and 1 <= arguments["guests"] <= 12


def test_required_call_is_valid_even_when_sampling_at_temperature_one(backend):
    for seed in (1, 2):
        done = collect(backend.stream([Message("user", "Is it raining in Lyon?")],
                                      GenerationParams(max_new_tokens=120, temperature=1.0,
                                                       seed=seed, tools=(WEATHER, BOOKING),
                                                       tool_choice="required",
                                                       parallel_tool_calls=False)))
        assert done.finish_reason == "tool_calls", done
        (call,) = done.tool_calls
        tool = WEATHER if call.name == WEATHER.name else BOOKING
        jsonschema.validate(json.loads(call.arguments), tool.parameters)


def test_response_format_schema_and_an_honest_cut(backend):
    schema = {"type": "object", "properties": {"city": {"type": "string"},
                                               "sunny": {"type": "boolean"}},
              "required": ["city", "sunny"], "additionalProperties": False}
    done = collect(backend.stream([Message("user", "Paris weather as JSON.")],
                                  GenerationParams(max_new_tokens=60, response_format=schema)))
    assert done.finish_reason == "stop"
    jsonschema.validate(json.loads(done.text), schema)
    cut = collect(backend.stream(ASK, GenerationParams(max_new_tokens=5, tools=(BOOKING,),
                                                       tool_choice="book_table")))
    assert cut.finish_reason == "length" and cut.tool_calls == []
    assert cut.text.startswith("<tool_call>")  # what was written is kept, not dropped


def test_tools_reach_the_prompt_through_the_fallback_template(backend):
    """SmolLM2-135M's own template ignores `tools`: the fallback writes them in."""
    assert not backend.native_tools
    prompt = backend.render(ASK, tools=(BOOKING,))
    assert "<tools>" in prompt and '"name": "book_table"' in prompt
    assert prompt.startswith("<|im_start|>system\n")
    assert backend.count_tokens(ASK, tools=(BOOKING,)) > backend.count_tokens(ASK) + 100


def test_an_assistant_prefill_is_continued_not_answered(backend):
    """Anthropic's prefill: a last assistant turn is continued inside that turn."""
    chat = [Message("user", "Name three colors."), Message("assistant", "The three colors are")]
    assert backend.render(chat).endswith("<|im_start|>assistant\nThe three colors are")
    assert backend.render(chat[:1]).endswith("<|im_start|>assistant\n")
    done = collect(backend.stream(chat, GenerationParams(max_new_tokens=4)))
    assert done.text and not done.text.lstrip().startswith("The three colors")
