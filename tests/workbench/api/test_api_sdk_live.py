"""The official `openai` and `anthropic` SDKs against a live server on the embedded default model.

One server (real SmolLM2-135M-Instruct through LocalBackend) for the module; greedy decoding
makes answers reproducible, so the two protocols, streaming and not, must agree to the
character, and a stop sequence must cut the same answer exactly where it occurs.
"""
from __future__ import annotations

import re

import anthropic
import openai
import pytest
from api_harness import LiveServer
from embedded_cache import shared_cache_dir

from engine.events import Message
from engine.backends.factory import make_backend
from workbench.api import create_api_app
from workbench.config import DEFAULT_MODEL, Settings

pytestmark = pytest.mark.slow

SYSTEM = "You are a helpful assistant. Answer briefly."
QUESTION = "Name three colors."
MAX_TOKENS = 8


@pytest.fixture(scope="module")
def backend():
    return make_backend(DEFAULT_MODEL, cache_dir=shared_cache_dir())


@pytest.fixture(scope="module")
def server(backend):
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


OAI_MESSAGES = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
CLAUDE_MESSAGES = [{"role": "user", "content": QUESTION}]


@pytest.fixture(scope="module")
def reference(oai):
    """The greedy answer, non-streaming, through the openai SDK."""
    return oai.chat.completions.create(model=DEFAULT_MODEL, messages=OAI_MESSAGES,
                                       max_tokens=MAX_TOKENS, temperature=0)


def test_openai_non_streaming_is_real_text_with_exact_usage(reference, backend, claude):
    text = reference.choices[0].message.content
    assert re.search(r"[A-Za-z]{3,}", text), text
    assert reference.choices[0].finish_reason in ("stop", "length")
    counted = claude.messages.count_tokens(model=DEFAULT_MODEL, system=SYSTEM,
                                           messages=CLAUDE_MESSAGES).input_tokens
    assert reference.usage.prompt_tokens == counted
    assert counted == backend.count_tokens([Message("system", SYSTEM),
                                            Message("user", QUESTION)])
    assert 0 < reference.usage.completion_tokens <= MAX_TOKENS
    assert reference.usage.total_tokens == counted + reference.usage.completion_tokens


def test_openai_streaming_matches_and_reports_usage(oai, reference):
    stream = oai.chat.completions.create(
        model=DEFAULT_MODEL, messages=OAI_MESSAGES, max_tokens=MAX_TOKENS, temperature=0,
        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reference.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage == reference.usage
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1


def test_stop_sequences_stop_in_both_protocols(oai, claude, reference):
    full = reference.choices[0].message.content
    stop = re.findall(r"[A-Za-z]{3,}", full)[-1]
    expected = full[:full.index(stop)]
    cut = oai.chat.completions.create(model=DEFAULT_MODEL, messages=OAI_MESSAGES,
                                      max_tokens=MAX_TOKENS, temperature=0, stop=[stop])
    assert cut.choices[0].message.content == expected
    assert cut.choices[0].finish_reason == "stop"
    msg = claude.messages.create(model=DEFAULT_MODEL, system=SYSTEM, messages=CLAUDE_MESSAGES,
                                 max_tokens=MAX_TOKENS, stop_sequences=[stop])
    assert "".join(b.text for b in msg.content if b.type == "text") == expected
    assert msg.stop_reason == "stop_sequence" and msg.stop_sequence == stop
    events = list(claude.messages.create(
        model=DEFAULT_MODEL, system=SYSTEM, messages=CLAUDE_MESSAGES, max_tokens=MAX_TOKENS,
        stop_sequences=[stop], stream=True))
    delta = next(e for e in events if e.type == "message_delta").delta
    assert (delta.stop_reason, delta.stop_sequence) == ("stop_sequence", stop)
    assert "".join(e.delta.text for e in events if e.type == "content_block_delta") == expected
    plain = claude.messages.create(model=DEFAULT_MODEL, system=SYSTEM,
                                   messages=CLAUDE_MESSAGES, max_tokens=MAX_TOKENS,
                                   stop_sequences=["zzzz-never"])
    assert plain.stop_reason != "stop_sequence" and plain.stop_sequence is None


def test_anthropic_non_streaming_agrees_with_openai(claude, reference):
    """Anthropic SDKs no longer send a temperature: the engine's default (greedy) applies."""
    msg = claude.messages.create(model=DEFAULT_MODEL, system=SYSTEM, messages=CLAUDE_MESSAGES,
                                 max_tokens=MAX_TOKENS)
    assert msg.type == "message" and msg.role == "assistant" and msg.model == DEFAULT_MODEL
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == reference.choices[0].message.content
    assert msg.usage.input_tokens == reference.usage.prompt_tokens
    assert msg.usage.output_tokens == reference.usage.completion_tokens
    expected_stop = {"length": "max_tokens", "stop": "end_turn"}
    assert msg.stop_reason == expected_stop[reference.choices[0].finish_reason]


def test_anthropic_streaming_events_in_documented_order(claude, reference):
    events = list(claude.messages.create(
        model=DEFAULT_MODEL, system=SYSTEM, messages=CLAUDE_MESSAGES,
        max_tokens=MAX_TOKENS, stream=True, extra_body={"temperature": 0}))
    kinds = [e.type for e in events]
    deltas = kinds.count("content_block_delta")
    assert deltas > 1
    assert kinds == (["message_start", "content_block_start"] + ["content_block_delta"] * deltas
                     + ["content_block_stop", "message_delta", "message_stop"])
    assert events[0].message.usage.input_tokens == reference.usage.prompt_tokens
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == reference.choices[0].message.content
    assert events[-2].usage.output_tokens == reference.usage.completion_tokens
    with claude.messages.stream(model=DEFAULT_MODEL, system=SYSTEM, messages=CLAUDE_MESSAGES,
                                max_tokens=MAX_TOKENS) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == text


def test_models_listed_for_both_sdks(oai, claude):
    assert [m.id for m in oai.models.list().data] == [DEFAULT_MODEL]
    assert [m.id for m in claude.models.list().data] == [DEFAULT_MODEL]
    assert oai.models.retrieve(DEFAULT_MODEL).id == DEFAULT_MODEL
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="gpt-4o", messages=OAI_MESSAGES, max_tokens=2)
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="mistral-large", messages=CLAUDE_MESSAGES, max_tokens=2)
    # a claude-* name is the served model (as DeepSeek's API maps them), named as asked
    reply = claude.messages.create(model="claude-sonnet-4-5", messages=CLAUDE_MESSAGES,
                                   max_tokens=2)
    assert reply.model == "claude-sonnet-4-5" and reply.usage.output_tokens >= 1
