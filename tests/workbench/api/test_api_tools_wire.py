"""Tools on the wire without a model: both protocols' requests become the engine's messages,
tool specs and choices, and requests that cannot be honoured are a 400 naming the parameter."""
from __future__ import annotations

import pytest
from api_harness import LiveServer, PacedEchoBackend

from engine.events import Message, ToolCall, ToolSpec
from workbench.api import create_api_app
from workbench.api.errors import ApiError
from workbench.api.wire import ChatCompletionRequest, CountTokensRequest, MessagesRequest
from workbench.config import DEFAULT_MODEL, Settings

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
OAI_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                             "parameters": SCHEMA}}
CLAUDE_TOOL = {"name": "get_weather", "description": "Weather", "input_schema": SCHEMA,
               "cache_control": {"type": "ephemeral"}, "eager_input_streaming": True}


def test_openai_history_with_calls_and_results():
    body = ChatCompletionRequest(model="m", tools=[OAI_TOOL], parallel_tool_calls=False,
                                 tool_choice={"type": "function",
                                              "function": {"name": "get_weather"}},
                                 messages=[
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_9", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": [{"type": "text",
                                                                 "text": "18C"}]}])
    assert body.engine_messages() == [
        Message("system", "Be brief."), Message("user", "Weather in Paris?"),
        Message("assistant", "", tool_calls=(ToolCall("call_9", "get_weather",
                                                      '{"city": "Paris"}'),)),
        Message("tool", "18C", tool_call_id="call_9", name="get_weather")]
    params = body.params(50)
    assert params.tools == (ToolSpec("get_weather", "Weather", SCHEMA),)
    assert params.tool_choice == "get_weather" and params.parallel_tool_calls is False
    schema = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "x"}],
                                   response_format={"type": "json_schema", "json_schema": {
                                       "name": "r", "schema": SCHEMA, "strict": True}})
    assert schema.params(5).response_format == SCHEMA
    assert ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "x"}],
                                 response_format={"type": "json_object"}).params(5) \
        .response_format == {}


def test_anthropic_blocks_system_turns_and_choices():
    body = MessagesRequest(model="m", max_tokens=10, system=[{"type": "text", "text": "A."}],
                           tools=[CLAUDE_TOOL], tool_choice={"type": "any",
                                                             "disable_parallel_tool_use": True},
                           messages=[
        {"role": "user", "content": "Weather?"},
        {"role": "system", "content": "B."},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hm", "signature": "s"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
             "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
             "content": [{"type": "text", "text": "down"}]},
            {"type": "text", "text": "And now?"}]}])
    assert body.engine_messages() == [
        Message("system", "A.\n\nB."), Message("user", "Weather?"),
        Message("assistant", "Checking.", tool_calls=(ToolCall("toolu_1", "get_weather",
                                                               '{"city": "Oslo"}'),)),
        Message("tool", "down", tool_call_id="toolu_1", name="get_weather", is_error=True),
        Message("user", "And now?")]
    params = body.params(10)
    assert params.tool_choice == "required" and params.parallel_tool_calls is False
    named = MessagesRequest(model="m", max_tokens=5, tools=[CLAUDE_TOOL],
                            tool_choice={"type": "tool", "name": "get_weather"},
                            messages=[{"role": "user", "content": "x"}])
    assert named.params(5).tool_choice == "get_weather"
    structured = MessagesRequest(model="m", max_tokens=5, messages=[{"role": "user",
                                                                     "content": "x"}],
                                 output_format={"type": "json_schema", "schema": SCHEMA})
    assert structured.params(5).response_format == SCHEMA
    counted = CountTokensRequest(model="m", tools=[CLAUDE_TOOL],
                                 messages=[{"role": "user", "content": "x"}])
    assert counted.engine_tools()[0].parameters == SCHEMA


@pytest.mark.parametrize("body, param, words", [
    ({"tool_choice": "required"}, "tool_choice", "needs tools"),
    ({"tools": [OAI_TOOL], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "tool_choice", "not among the tools"),
    ({"tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "wat"}}}}}],
      "tool_choice": "required"}, "tool_choice", "cannot be enforced"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
     "response_format", "needs json_schema.schema"),
])
def test_openai_requests_that_cannot_be_honoured_are_400(body, param, words):
    with pytest.raises(ApiError) as err:
        ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "x"}],
                              **body).params(5)
    assert err.value.status == 400 and err.value.param == param
    assert words in err.value.message


def test_deprecated_functions_are_refused_not_ignored():
    with pytest.raises(ValueError, match="send the same definitions as tools"):
        ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "x"}],
                              functions=[OAI_TOOL["function"]])


def test_anthropic_server_tools_and_nameless_tool_choice_are_400():
    with pytest.raises(ApiError, match="server tool"):
        MessagesRequest(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}],
                        tools=[{"type": "web_search_20250305", "name": "web_search"}]).params(5)
    with pytest.raises(ApiError, match="needs a name"):
        MessagesRequest(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}],
                        tools=[CLAUDE_TOOL], tool_choice={"type": "tool"}).params(5)


def test_http_400s_arrive_in_each_protocols_shape(http):
    backend = PacedEchoBackend()
    with LiveServer(create_api_app(Settings(model="paced-echo"), lambda: backend)) as live:
        r = http.post(f"{live.url}/v1/chat/completions", json={
            "model": "paced-echo", "messages": [{"role": "user", "content": "x"}],
            "tool_choice": "required"})
        assert r.status_code == 400 and r.json()["error"]["param"] == "tool_choice"
        r = http.post(f"{live.url}/v1/messages", json={
            "model": "paced-echo", "max_tokens": 5, "tools": [CLAUDE_TOOL],
            "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
        assert "tools are not supported" in r.json()["error"]["message"]
        assert backend.started == 0



def test_models_list_the_window_as_max_input_tokens(http):
    """LiteLLM reads `max_input_tokens`; the window comes from the registry, unloaded."""
    with LiveServer(create_api_app(Settings(), lambda: PacedEchoBackend())) as live:
        card = http.get(f"{live.url}/v1/models").json()["data"][0]
    assert card["id"] == DEFAULT_MODEL
    assert card["max_input_tokens"] == card["context_window"] == 8192
