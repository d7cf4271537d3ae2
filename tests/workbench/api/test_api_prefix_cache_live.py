"""The prefix cache through the HTTP API, as app.py builds it with its default settings: a second
request over the same long system prompt reports the tokens it read from the cache in each
protocol's own field, and Claude Code's volatile billing-header line does not defeat it.

The official openai and anthropic SDKs against a live server on loopback, the embedded default,
a real screenplay as the shared prompt.
"""
from __future__ import annotations

import anthropic
import openai
import pytest
from api_harness import LiveServer
from embedded_cache import shared_cache_dir

import app
from workbench.api.wire import MessagesRequest
from workbench.config import DEFAULT_MODEL, Settings

SCREENPLAY = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"
MAX_TOKENS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    settings = Settings(data_dir=data, cache_dir=shared_cache_dir(), api_only=True)
    with LiveServer(app.build_app(settings)) as live:
        yield live, data


@pytest.fixture(scope="module")
def library(testdocs) -> str:
    return (testdocs / SCREENPLAY).read_text(encoding="utf-8")


@pytest.mark.slow
def test_openai_reports_cached_prompt_tokens(server, library):
    live, data = server
    oai = openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0,
                        timeout=600)

    def ask(question: str, **extra):
        return oai.chat.completions.create(
            model=DEFAULT_MODEL, max_tokens=MAX_TOKENS, temperature=0, **extra,
            messages=[{"role": "system", "content": library},
                      {"role": "user", "content": question}])

    first = ask("Who is Cyber Bob?")
    assert first.usage.prompt_tokens > 1000
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert list((data / "prefix-cache").glob("*/entries/*.safetensors"))
    chunks = list(ask("Where is the park?", stream=True, stream_options={"include_usage": True}))
    usage = chunks[-1].usage
    assert usage.prompt_tokens_details.cached_tokens >= 0.7 * usage.prompt_tokens


@pytest.mark.slow
def test_anthropic_reports_cache_reads_despite_the_billing_header(server, library):
    live, _ = server
    claude = anthropic.Anthropic(base_url=live.url, api_key="unused", max_retries=0,
                                 timeout=600)

    def ask(question: str, nonce: str):
        system = [{"type": "text", "text": f"x-anthropic-billing-header: cc_version=2.1.7; "
                                           f"cc_entrypoint=cli; cch={nonce};"},
                  {"type": "text", "text": library}]
        messages = [{"role": "user", "content": question}]
        counted = claude.messages.count_tokens(model=DEFAULT_MODEL, system=system,
                                               messages=messages).input_tokens
        reply = claude.messages.create(model=DEFAULT_MODEL, max_tokens=MAX_TOKENS,
                                       system=system, messages=messages)
        return counted, reply.usage

    ask("Who is Cyber Bob?", "a1b2c")
    counted, usage = ask("What does the traffic light do?", "f9e8d")  # a new nonce each call
    assert usage.cache_read_input_tokens >= 0.7 * counted
    assert usage.input_tokens + usage.cache_read_input_tokens == counted  # Anthropic's split


def test_billing_header_lines_are_dropped_from_the_system_prompt():
    def system_of(system) -> str:
        request = MessagesRequest(model="m", max_tokens=1, system=system,
                                  messages=[{"role": "user", "content": "hi"}])
        return request.engine_messages()[0].content

    header = {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.7; cch=1;"}
    rules = {"type": "text", "text": "You are a script doctor.\nBe brief."}
    assert system_of([header, rules]) == "You are a script doctor.\nBe brief."
    assert system_of("x-anthropic-billing-header: cch=9;\nBe brief.") == "Be brief."
    assert system_of("Quote it: x-anthropic-billing-header is a line.") == \
        "Quote it: x-anthropic-billing-header is a line."  # only a line that starts with it
    only = MessagesRequest(model="m", max_tokens=1, system=[header],
                           messages=[{"role": "user", "content": "hi"}]).engine_messages()
    assert [m.role for m in only] == ["user"]
