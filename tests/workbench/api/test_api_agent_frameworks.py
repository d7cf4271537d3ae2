"""LiteLLM and LangChain, the two agent frameworks studios put in front of a model server,
against a live Longhand serving the embedded default.

What their users hit (../shared/research/CLIENTS_AND_HOSTING.md sections 1 and 6): tool calls
that come back as text, LangChain's `with_structured_output(method="function_calling")`
returning None, LiteLLM's `anthropic/` provider refused for its default max_tokens of 128000,
and overflow errors LiteLLM cannot recognise, so its ContextWindowExceededError and fallbacks
never fire. Each test drives the real framework, not a hand-written request.
"""
from __future__ import annotations

import json
import os

import jsonschema
import pytest
from api_harness import LiveServer
from embedded_cache import shared_cache_dir
from pydantic import BaseModel, Field

from engine.backends.factory import make_backend
from workbench.api import create_api_app
from workbench.config import DEFAULT_MODEL, Settings

# LiteLLM fetches its model price map from GitHub at import unless told to use its own copy;
# nothing here may reach the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm")
langchain_openai = pytest.importorskip("langchain_openai")

pytestmark = pytest.mark.slow

WEATHER = {"type": "object",
           "properties": {"city": {"type": "string"},
                          "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
           "required": ["city", "unit"]}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": WEATHER}}]
QUESTION = [{"role": "user", "content": "What is the weather in Lisbon?"}]


@pytest.fixture(scope="module")
def server():
    backend = make_backend(DEFAULT_MODEL, cache_dir=shared_cache_dir())
    with LiveServer(create_api_app(Settings(), lambda: backend)) as live:
        yield live


def _overflow_text() -> str:
    return "The quick brown fox jumps over the lazy dog. " * 1200  # ~12K tokens > 8,192


def test_litellm_openai_provider_forced_tool_call(server):
    response = litellm.completion(
        model=f"openai/{DEFAULT_MODEL}", api_base=f"{server.url}/v1", api_key="unused",
        messages=QUESTION, tools=TOOLS, tool_choice="required", max_tokens=120,
        num_retries=0, timeout=300)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather" and call.id
    jsonschema.validate(json.loads(call.function.arguments), WEATHER)


def test_litellm_anthropic_provider_default_max_tokens_and_forced_tool(server):
    """LiteLLM's `anthropic/` provider translates OpenAI-style tools to Anthropic's and sends
    its own large max_tokens default: answered (capped to the window), never refused."""
    response = litellm.completion(
        model="anthropic/claude-sonnet-4-5", api_base=server.url, api_key="unused",
        messages=QUESTION, tools=TOOLS, num_retries=0, timeout=300,
        tool_choice={"type": "function", "function": {"name": "get_weather"}})
    choice = response.choices[0]
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER)
    assert choice.finish_reason == "tool_calls"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_litellm_recognises_the_overflow_as_context_window_exceeded(server, provider):
    model, base = ((f"openai/{DEFAULT_MODEL}", f"{server.url}/v1") if provider == "openai"
                   else ("anthropic/claude-sonnet-4-5", server.url))
    with pytest.raises(litellm.ContextWindowExceededError) as raised:
        litellm.completion(model=model, api_base=base, api_key="unused", max_tokens=8,
                           messages=[{"role": "user", "content": _overflow_text()}],
                           num_retries=0, timeout=300)
    assert "8192" in str(raised.value).replace(",", "")


def test_langchain_bind_tools_returns_a_structured_call(server):
    chat = langchain_openai.ChatOpenAI(base_url=f"{server.url}/v1", api_key="unused",
                                       model=DEFAULT_MODEL, max_tokens=120, max_retries=0,
                                       timeout=300)
    message = chat.bind_tools(TOOLS, tool_choice="get_weather").invoke(QUESTION)
    (call,) = message.tool_calls
    assert call["name"] == "get_weather" and call["id"]
    jsonschema.validate(call["args"], WEATHER)


class Scene(BaseModel):
    """A scene heading split into its parts."""
    location: str = Field(description="where the scene takes place")
    time_of_day: str = Field(description="DAY or NIGHT")
    interior: bool = Field(description="true for INT., false for EXT.")


def test_langchain_with_structured_output_returns_the_model(server):
    chat = langchain_openai.ChatOpenAI(base_url=f"{server.url}/v1", api_key="unused",
                                       model=DEFAULT_MODEL, max_tokens=120, max_retries=0,
                                       timeout=300)
    structured = chat.with_structured_output(Scene, method="function_calling")
    scene = structured.invoke("Split this scene heading: INT. LIGHTHOUSE KITCHEN - NIGHT")
    assert isinstance(scene, Scene)
    assert scene.location.strip() and scene.time_of_day.strip()
