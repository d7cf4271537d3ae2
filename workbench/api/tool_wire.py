"""Tools on the wire: both protocols' tool definitions, tool_choice and structured output.

Owns the request shapes of OpenAI `tools` / `tool_choice` / `parallel_tool_calls` /
`response_format` and Anthropic `tools` / `tool_choice` (with `disable_parallel_tool_use`) /
`output_format`, their translation to the engine's ToolSpec and GenerationParams fields, and
the early check that a forced call's or a schema's grammar compiles (a 400 naming the
parameter, before the request takes a place in the queue).
References: platform.openai.com/docs/guides/function-calling and /structured-outputs,
docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use.
Does not know HTTP, queues or the backend.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.events import ToolSpec
from engine.tools import constrain, hermes

from .errors import bad_request

EMPTY_SCHEMA = {"type": "object", "properties": {}}


class WireModel(BaseModel):
    """Every request model of both protocols: fields we do not know are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")


_Wire = WireModel


# ---- OpenAI ---------------------------------------------------------------------------------

class OpenAIFunction(_Wire):
    name: str
    description: str | None = None
    parameters: dict | None = None
    strict: bool | None = None


class OpenAITool(_Wire):
    type: Literal["function"] = "function"
    function: OpenAIFunction


class OpenAINamedChoice(_Wire):
    type: Literal["function"] = "function"
    function: OpenAIFunction


class JsonSchemaFormat(_Wire):
    name: str = "response"
    schema_: dict | None = Field(None, alias="schema")  # `schema` would shadow BaseModel's
    strict: bool | None = None


class ResponseFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


def openai_tools(tools: list[OpenAITool] | None) -> tuple[ToolSpec, ...]:
    return tuple(ToolSpec(t.function.name, t.function.description or "",
                          t.function.parameters or EMPTY_SCHEMA) for t in tools or [])


def openai_choice(choice: str | OpenAINamedChoice | None, tools: tuple[ToolSpec, ...]) -> str:
    if choice is None:
        return "auto"
    if isinstance(choice, OpenAINamedChoice):
        return checked_choice(choice.function.name, tools, "tool_choice")
    if choice not in ("none", "auto", "required"):
        raise bad_request(f"tool_choice {choice!r} must be none, auto, required or "
                          '{"type": "function", "function": {"name": ...}}', param="tool_choice")
    return checked_choice(choice, tools, "tool_choice")


def openai_format(fmt: ResponseFormat | None) -> dict | None:
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {}
    if fmt.json_schema is None or fmt.json_schema.schema_ is None:
        raise bad_request("response_format json_schema needs json_schema.schema",
                          param="response_format")
    return checked_schema(fmt.json_schema.schema_, "response_format")


# ---- Anthropic ------------------------------------------------------------------------------

class AnthropicTool(_Wire):
    model_config = ConfigDict(extra="allow")
    name: str
    type: str | None = None
    description: str | None = None
    input_schema: dict | None = None


class AnthropicToolChoice(_Wire):
    type: Literal["auto", "any", "tool", "none"] = "auto"
    name: str | None = None
    disable_parallel_tool_use: bool = False


class OutputFormat(_Wire):
    """Anthropic's structured outputs (`output_format`, or `output_config.format`)."""

    type: Literal["json_schema"] = "json_schema"
    schema_: dict | None = Field(None, alias="schema")


def anthropic_tools(tools: list[AnthropicTool] | None) -> tuple[ToolSpec, ...]:
    out = []
    for i, t in enumerate(tools or []):
        if t.input_schema is None:
            raise bad_request(f"tool {t.name!r} (type {t.type!r}) is a server tool this server "
                              "cannot run; define it with an input_schema",
                              param=f"tools[{i}]")
        out.append(ToolSpec(t.name, t.description or "", t.input_schema))
    return tuple(out)


def anthropic_choice(choice: AnthropicToolChoice | None, tools: tuple[ToolSpec, ...]) -> str:
    if choice is None or choice.type == "auto":
        return "auto"
    if choice.type == "tool":
        if not choice.name:
            raise bad_request('tool_choice {"type": "tool"} needs a name', param="tool_choice")
        return checked_choice(choice.name, tools, "tool_choice")
    return checked_choice("required" if choice.type == "any" else "none", tools, "tool_choice")


# ---- shared checks --------------------------------------------------------------------------

def checked_choice(choice: str, tools: tuple[ToolSpec, ...], param: str) -> str:
    """A forced choice names an offered tool and its schema compiles, else a 400."""
    if choice in ("auto", "none"):
        return choice
    if not tools:
        raise bad_request(f"tool_choice {choice!r} needs tools", param=param)
    try:
        constrain.check(constrain.forced_call_grammar(hermes, tools, choice))
    except constrain.GrammarError as exc:
        raise bad_request(str(exc), param=param) from None
    return choice


def checked_schema(schema: dict, param: str) -> dict:
    try:
        constrain.check(constrain.json_grammar(schema))
    except constrain.GrammarError as exc:
        raise bad_request(str(exc), param=param) from None
    return schema
