"""DeepSeek's DSML tool-call format: the parser on what DeepSeek models write, rendering, and a
forced call through the grammar on a real model.

GUIDE is the two-call answer of DeepSeek-V3.2's function-calling guide (the encoding the V4
release keeps); DRIFTED is the ASCII-bar variant that models have been seen to write inside
their reasoning (reported against LiteLLM and vLLM), which must still parse.
"""
from __future__ import annotations

import json

import jsonschema
import pytest

from engine.events import GenerationParams, Message, ToolSpec, collect
from engine.tools import constrain, deepseek_dsml, formats

B = "\uff5c"
GUIDE = (f"I'll check both.\n\n<{B}DSML{B}function_calls>\n"
         f'<{B}DSML{B}invoke name="get_weather">\n'
         f'<{B}DSML{B}parameter name="location" string="true">Hangzhou</{B}DSML{B}parameter>\n'
         f'<{B}DSML{B}parameter name="date" string="true">2024-01-16</{B}DSML{B}parameter>\n'
         f"</{B}DSML{B}invoke>\n"
         f'<{B}DSML{B}invoke name="get_forecast">\n'
         f'<{B}DSML{B}parameter name="location" string="true">Beijing</{B}DSML{B}parameter>\n'
         f'<{B}DSML{B}parameter name="days" string="false">3</{B}DSML{B}parameter>\n'
         f'<{B}DSML{B}parameter name="units" string="false">["c", "mm"]</{B}DSML{B}parameter>\n'
         f"</{B}DSML{B}invoke>\n</{B}DSML{B}function_calls>")
DRIFTED = ('<|DSML|function_calls>\n<|DSML|invoke name="Read">\n'
           '<|DSML|parameter name="file_path" string="true">/tmp/a.txt</|DSML|parameter>\n'
           '</|DSML|invoke>\n</|DSML|function_calls>')
WEATHER = ToolSpec("get_weather", "Weather in a city", {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 30},
                   "days": {"type": "integer", "minimum": 1, "maximum": 7},
                   "unit": {"enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "days"]})


def test_reads_the_guides_parallel_calls_with_string_and_json_values():
    rest, calls = deepseek_dsml.parse(GUIDE)
    assert rest == "I'll check both."
    assert calls == [("get_weather", {"location": "Hangzhou", "date": "2024-01-16"}),
                     ("get_forecast", {"location": "Beijing", "days": 3,
                                       "units": ["c", "mm"]})]


def test_reads_ascii_bars_and_refuses_what_is_not_a_call():
    assert deepseek_dsml.parse(DRIFTED) == ("", [("Read", {"file_path": "/tmp/a.txt"})])
    assert deepseek_dsml.parse("no calls here") is None
    assert deepseek_dsml.parse(f"<{B}DSML{B}function_calls>\nplain text") is None
    broken = GUIDE.replace('string="false">3', 'string="false">three')
    assert deepseek_dsml.parse(broken) is None  # a JSON value that is not JSON


def test_render_then_parse_round_trips():
    args = {"city": "São Paulo", "days": 2, "flags": {"hourly": True}}
    text = deepseek_dsml.render_call("get_weather", args)
    assert text.startswith(deepseek_dsml.OPEN) and text.endswith(deepseek_dsml.CLOSE)
    assert deepseek_dsml.parse(text) == ("", [("get_weather", args)])


def test_a_dsml_template_selects_the_format_and_others_do_not():
    v4_like = "{% if tools %}## Tools ... <｜DSML｜function_calls> ...{% endif %}"
    assert formats.format_for(v4_like) is deepseek_dsml
    assert formats.format_for("{{ messages }}") is not deepseek_dsml


def test_the_forced_grammar_compiles_for_required_and_named_choices():
    for choice in ("required", "get_weather"):
        grammar = constrain.forced_call_grammar(deepseek_dsml, (WEATHER,), choice)
        constrain.check(grammar)
        assert 'invoke name=\\"get_weather\\"' in grammar or 'invoke name="get_weather"' \
            in grammar


@pytest.mark.slow
def test_a_forced_dsml_call_on_a_real_model_validates_against_the_schema():
    """The embedded SmolLM2 was never taught DSML: only the grammar makes it write one."""
    from embedded_cache import shared_cache_dir

    from engine.backends.factory import make_backend
    from workbench.config import DEFAULT_MODEL

    backend = make_backend(DEFAULT_MODEL, cache_dir=shared_cache_dir())
    backend.tool_format = deepseek_dsml  # as a DSML chat template would select it
    done = collect(backend.stream(
        [Message("user", "What will the weather be in Porto for the next 3 days?")],
        GenerationParams(max_new_tokens=120, tools=(WEATHER,), tool_choice="get_weather")))
    assert done.finish_reason == "tool_calls", done
    (call,) = done.tool_calls
    assert call.name == "get_weather"
    jsonschema.validate(json.loads(call.arguments), WEATHER.parameters)
