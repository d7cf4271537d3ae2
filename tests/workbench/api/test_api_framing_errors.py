"""Raw HTTP against a live server: SSE framing of both protocols and every error shape."""
from __future__ import annotations

import json

import httpx
import pytest
from api_harness import LiveServer, PacedEchoBackend
from fastapi import FastAPI
from starlette.responses import PlainTextResponse
from starlette.routing import Mount

from workbench.api import create_api_app, mount
from workbench.api.auth import ApiKeyRequired
from workbench.config import Settings

MODEL = "paced-echo"
USER = [{"role": "user", "content": "alpha beta gamma delta"}]


@pytest.fixture(scope="module")
def backend():
    return PacedEchoBackend(context_window=64)


@pytest.fixture(scope="module")
def server(backend):
    app = create_api_app(Settings(model=MODEL), lambda: backend, max_body_bytes=4096)
    with LiveServer(app) as live:
        yield live


def sse(text: str) -> list[dict]:
    """Parse an event stream strictly: every frame ends with a blank line."""
    assert text.endswith("\n\n"), text[-80:]
    frames = []
    for raw in text[:-2].split("\n\n"):
        fields = {}
        for line in raw.split("\n"):
            name, sep, value = line.partition(": ")
            assert sep and name in ("event", "data"), f"bad SSE line {line!r}"
            fields[name] = value
        frames.append(fields)
    return frames


def test_openai_stream_framing(server, http):
    r = http.post(f"{server.url}/v1/chat/completions", json={
        "model": MODEL, "messages": USER, "stream": True,
        "stream_options": {"include_usage": True}})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    frames = sse(r.text)
    assert frames[-1] == {"data": "[DONE]"}
    chunks = [json.loads(f["data"]) for f in frames[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "alpha beta gamma delta"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 4,
                                   "total_tokens": 11,
                                   "prompt_tokens_details": {"cached_tokens": 0}}
    assert all("usage" not in c for c in chunks[:-1])


def test_openai_stream_without_usage_and_with_length_limit(server, http):
    r = http.post(f"{server.url}/v1/chat/completions", json={
        "model": MODEL, "messages": USER, "stream": True, "max_completion_tokens": 2})
    chunks = [json.loads(f["data"]) for f in sse(r.text)[:-1]]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_anthropic_stream_event_order(server, http):
    r = http.post(f"{server.url}/v1/messages", json={
        "model": MODEL, "max_tokens": 10, "messages": USER, "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert r.status_code == 200
    frames = sse(r.text)
    for f in frames:
        assert json.loads(f["data"])["type"] == f["event"]
    names = [f["event"] for f in frames]
    assert names == ["message_start", "ping",
                     "content_block_start", "content_block_delta", "content_block_stop",
                     "content_block_start"] + ["content_block_delta"] * 4 + [
                     "content_block_stop", "message_delta", "message_stop"]
    data = [json.loads(f["data"]) for f in frames]
    assert data[0]["message"]["usage"]["input_tokens"] == 7
    assert data[2]["content_block"]["type"] == "thinking" and data[2]["index"] == 0
    assert data[3]["delta"] == {"type": "thinking_delta", "thinking": "echoing 4 words"}
    assert data[5]["content_block"] == {"type": "text", "text": ""} and data[5]["index"] == 1
    assert "".join(d["delta"]["text"] for d in data[6:10]) == "alpha beta gamma delta"
    assert data[-2]["delta"]["stop_reason"] == "end_turn"
    assert data[-2]["usage"]["output_tokens"] == 4


def test_nonstream_bodies_and_count_tokens(server, http):
    r = http.post(f"{server.url}/v1/messages", json={
        "model": MODEL, "max_tokens": 2, "system": [{"type": "text", "text": "be brief"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "one two three"}]}]})
    body = r.json()
    assert body["type"] == "message" and body["content"] == [{"type": "text", "text": "one two"}]
    assert body["stop_reason"] == "max_tokens"
    count = http.post(f"{server.url}/v1/messages/count_tokens", json={
        "model": MODEL, "system": "be brief", "messages": [
            {"role": "user", "content": "one two three"}]}).json()
    assert body["usage"]["input_tokens"] == count["input_tokens"] == 11
    r = http.post(f"{server.url}/v1/chat/completions", json={
        "model": MODEL, "messages": USER, "stop": "gamma", "temperature": 0})
    choice = r.json()["choices"][0]
    assert choice["message"]["content"] == "alpha beta " and choice["finish_reason"] == "stop"


def test_models_and_health(server, http):
    models = http.get(f"{server.url}/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == [MODEL]
    assert http.get(f"{server.url}/v1/models/{MODEL}").json()["id"] == MODEL
    health = http.get(f"{server.url}/healthz").json()
    assert health["status"] == "ok" and health["queue"]["size"] == 8


def openai_error(r: httpx.Response, status: int, etype: str) -> str:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["type"] == etype
    return err["message"]


def anthropic_error(r: httpx.Response, status: int, etype: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == etype
    return body["error"]["message"]


CHAT, MSGS = "/v1/chat/completions", "/v1/messages"


def test_400_malformed_and_invalid(server, http):
    raw = {"content": b"{not json", "headers": {"content-type": "application/json"}}
    assert "JSON" in openai_error(http.post(server.url + CHAT, **raw), 400,
                                  "invalid_request_error")
    assert "JSON" in anthropic_error(http.post(server.url + MSGS, **raw), 400,
                                     "invalid_request_error")
    msg = anthropic_error(http.post(server.url + MSGS, json={"model": MODEL, "messages": USER}),
                          400, "invalid_request_error")
    assert "max_tokens" in msg
    msg = openai_error(http.post(server.url + CHAT, json={"model": MODEL, "messages": USER,
                                                          "temperature": 5}),
                       400, "invalid_request_error")
    assert "temperature" in msg
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    msg = openai_error(http.post(server.url + CHAT, json={"model": MODEL, "messages": image}),
                       400, "invalid_request_error")
    assert "image_url" in msg


def test_404_unknown_model(server, http):
    msg = openai_error(http.post(server.url + CHAT, json={"model": "gpt-9", "messages": USER}),
                       404, "invalid_request_error")
    assert "gpt-9" in msg and MODEL in msg
    # (a claude-* name would mean the served model: workbench/api/aliases.py)
    anthropic_error(http.post(server.url + MSGS, json={
        "model": "mistral-x", "max_tokens": 5, "messages": USER}), 404, "not_found_error")
    anthropic_error(http.get(f"{server.url}/v1/models/mistral-x",
                             headers={"anthropic-version": "2023-06-01"}),
                    404, "not_found_error")


def test_prompt_overflow_is_the_vendors_400_and_max_tokens_is_capped(server, http, backend):
    """A prompt over the window is OpenAI's `context_length_exceeded` / Anthropic's "prompt is
    too long" (what LiteLLM recognises); a max_tokens over the room left is capped to it."""
    before = backend.started
    long = [{"role": "user", "content": "word " * 70}]
    r = http.post(server.url + CHAT, json={"model": MODEL, "messages": long})
    msg = openai_error(r, 400, "invalid_request_error")
    assert r.json()["error"]["code"] == "context_length_exceeded"
    assert "prompt is too long: 73 tokens > 64 maximum" in msg
    assert "maximum context length is 64 tokens" in msg
    msg = anthropic_error(http.post(server.url + MSGS, json={
        "model": MODEL, "max_tokens": 5, "messages": long}), 400, "invalid_request_error")
    assert msg.startswith("prompt is too long")
    assert backend.started == before  # refused before the engine ran: nothing truncated
    words = [{"role": "user", "content": " ".join(["w"] * 50)}]  # 53 tokens: room for 11
    r = http.post(server.url + MSGS, json={"model": MODEL, "max_tokens": 32000,
                                           "messages": words})
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["output_tokens"] == 11 and r.json()["stop_reason"] == "max_tokens"
    r = http.post(server.url + CHAT, json={"model": MODEL, "max_tokens": 128000,
                                           "messages": words})
    assert r.json()["usage"]["completion_tokens"] == 11
    assert r.json()["choices"][0]["finish_reason"] == "length"


def test_413_body_too_large(server, http):
    big = [{"role": "user", "content": "word " * 2000}]
    anthropic_error(http.post(server.url + MSGS, json={
        "model": MODEL, "max_tokens": 5, "messages": big}), 413, "request_too_large")


def test_500_engine_failure_before_and_during_the_answer(server, http):
    fail = [{"role": "user", "content": "FAIL"}]
    assert "simulated device failure" in openai_error(http.post(server.url + CHAT, json={
        "model": MODEL, "messages": fail}), 500, "server_error")
    anthropic_error(http.post(server.url + MSGS, json={
        "model": MODEL, "max_tokens": 5, "messages": fail, "stream": True}), 500, "api_error")
    assert "device lost" in openai_error(http.post(server.url + CHAT, json={
        "model": MODEL, "messages": [{"role": "user", "content": "RAISE"}]}),
        500, "server_error")
    broken = [{"role": "user", "content": "one BREAK"}]
    frames = sse(http.post(server.url + MSGS, json={
        "model": MODEL, "max_tokens": 5, "messages": broken, "stream": True}).text)
    assert frames[-1]["event"] == "error"
    assert json.loads(frames[-1]["data"])["error"]["type"] == "api_error"
    frames = sse(http.post(server.url + CHAT, json={
        "model": MODEL, "messages": broken, "stream": True}).text)
    assert "mid-answer" in json.loads(frames[-1]["data"])["error"]["message"]


def test_401_auth_and_off_loopback_refusal():
    backend = PacedEchoBackend()
    with pytest.raises(ApiKeyRequired):
        create_api_app(Settings(model=MODEL, host="0.0.0.0"), lambda: backend)
    settings = Settings(model=MODEL, host="0.0.0.0", api_key="s3cret-key")
    with LiveServer(create_api_app(settings, lambda: backend)) as live, \
            httpx.Client(base_url=live.url, timeout=30) as c:
        assert c.get("/healthz").status_code == 200
        openai_error(c.get("/v1/models"), 401, "authentication_error")
        openai_error(c.post(CHAT, json={"model": MODEL, "messages": USER},
                            headers={"authorization": "Bearer wrong"}),
                     401, "authentication_error")
        anthropic_error(c.post(MSGS, json={"model": MODEL, "max_tokens": 3, "messages": USER},
                               headers={"x-api-key": "s3cret-kez"}),
                        401, "authentication_error")
        ok = c.post(CHAT, json={"model": MODEL, "messages": USER},
                    headers={"authorization": "Bearer s3cret-key"})
        assert ok.status_code == 200
        ok = c.post(MSGS, json={"model": MODEL, "max_tokens": 3, "messages": USER},
                    headers={"x-api-key": "s3cret-key"})
        assert ok.json()["content"][0]["text"] == "alpha beta gamma"


def test_mount_goes_ahead_of_a_catch_all_ui():
    """app.py mounts Gradio at '/': the API must still answer, and the UI keep its errors."""
    class Ctx:
        settings = Settings(model=MODEL)
        backend = staticmethod(lambda: PacedEchoBackend())

    app = FastAPI()
    app.router.routes.append(Mount("/", app=PlainTextResponse("ui")))
    mount(app, Ctx())
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=30) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        assert c.get("/somewhere").text == "ui"
        r = c.post(CHAT, json={"model": MODEL, "messages": USER})
        assert r.json()["choices"][0]["message"]["content"] == "alpha beta gamma delta"


def test_unsupported_options_are_refused_not_ignored(server, http):
    msg = openai_error(http.post(server.url + CHAT, json={"model": MODEL, "messages": USER,
                                                          "n": 2}),
                       400, "invalid_request_error")
    assert "n=1" in msg
    tool = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]}]
    msg = anthropic_error(http.post(server.url + MSGS, json={  # this backend takes no tools
        "model": MODEL, "max_tokens": 5, "messages": tool}), 400, "invalid_request_error")
    assert "tools are not supported" in msg and "paced-echo" in msg


def test_unknown_routes_answer_in_the_protocols_shape(server, http):
    r = http.post(f"{server.url}/v1/responses/nothing", json={})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_url"
    assert "/v1/chat/completions" in r.json()["error"]["message"]
    msg = anthropic_error(http.post(f"{server.url}/v1/messages/batches", json={}),
                          404, "not_found_error")
    assert "unknown route POST /v1/messages/batches" in msg


def test_system_turns_inside_messages_fold_into_the_system_prompt(server, http, backend):
    """Claude Code >= 2.1.154 sends `role: "system"` inside `messages`."""
    r = http.post(server.url + MSGS, json={
        "model": MODEL, "max_tokens": 20, "system": "one two",
        "messages": [{"role": "user", "content": "alpha"},
                     {"role": "system", "content": [{"type": "text", "text": "three"}]},
                     {"role": "user", "content": "beta"}]})
    assert r.status_code == 200, r.text
    counted = http.post(server.url + MSGS + "/count_tokens", json={
        "model": MODEL, "system": "one two\n\nthree",
        "messages": [{"role": "user", "content": "alpha"}, {"role": "user", "content": "beta"}]})
    assert r.json()["usage"]["input_tokens"] == counted.json()["input_tokens"]


def test_aliases_resolve_and_a_retired_alias_forces_thinking(http):
    """deepseek-reasoner is deepseek-v4-flash in thinking mode (engine/models.py)."""
    backend = PacedEchoBackend(model="deepseek-v4-flash")
    app = create_api_app(Settings(model="deepseek-v4-flash"), lambda: backend)
    with LiveServer(app) as live:
        r = http.post(live.url + CHAT, json={"model": "deepseek-reasoner", "messages": USER})
        message = r.json()["choices"][0]["message"]
        assert message["reasoning_content"] == "echoing 4 words"
        assert message["content"] == "alpha beta gamma delta"
        assert r.json()["model"] == "deepseek-reasoner"
        r = http.post(live.url + CHAT, json={"model": "DeepSeek-V4-Flash", "messages": USER})
        assert r.json()["choices"][0]["message"]["reasoning_content"] is None
        r = http.post(live.url + MSGS, json={"model": "deepseek-chat", "max_tokens": 9,
                                             "thinking": {"type": "enabled",
                                                          "budget_tokens": 1024},
                                             "messages": USER})
        assert [b["type"] for b in r.json()["content"]] == ["text"]  # forced off
