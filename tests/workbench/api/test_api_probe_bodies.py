"""Body decoding at its edges: what is refused, and what must still pass (body.py)."""
from __future__ import annotations

import json

import pytest
from api_harness import LiveServer, PacedEchoBackend

from workbench.api import create_api_app
from workbench.api.body import MAX_DEPTH
from workbench.config import Settings

MODEL = "paced-echo"
CHAT, COUNT = "/v1/chat/completions", "/v1/messages/count_tokens"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def server():
    with LiveServer(create_api_app(Settings(model=MODEL), lambda: PacedEchoBackend(
            context_window=256))) as live:
        yield live


def chat(text_json: str) -> bytes:
    return ('{"model": "%s", "messages": [{"role": "user", "content": %s}]}'
            % (MODEL, text_json)).encode()


def test_a_paired_surrogate_escape_is_a_character_and_passes(server, http):
    r = http.post(server.url + CHAT, content=chat('"smile \\ud83d\\ude00 now"'), headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "smile \U0001F600 now"
    r = http.post(server.url + CHAT, content=chat('"a backslash \\\\ud800 is text"'),
                  headers=JSON)
    assert r.json()["choices"][0]["message"]["content"] == "a backslash \\ud800 is text"


@pytest.mark.parametrize("escape", ["\\ud800", "\\uDFFF", "x\\udc00", "\\ude00\\ud83d"])
def test_a_lone_surrogate_is_refused_in_either_protocol(server, http, escape):
    r = http.post(server.url + CHAT, content=chat(f'"{escape}"'), headers=JSON)
    assert r.status_code == 400 and "surrogate" in r.json()["error"]["message"]
    body = ('{"model": "%s", "messages": [{"role": "user", "content": "%s"}]}'
            % (MODEL, escape)).encode()
    r = http.post(server.url + COUNT, content=body, headers=JSON)
    assert r.status_code == 400 and r.json()["type"] == "error"
    assert "surrogate" in r.json()["error"]["message"]


def test_nesting_up_to_the_limit_reaches_validation_and_past_it_is_refused(server, http):
    def nested(depth: int) -> bytes:  # the outer object counts as one level
        inner = "[" * (depth - 1) + "]" * (depth - 1)
        return ('{"model": "%s", "messages": %s}' % (MODEL, inner)).encode()

    at_limit = http.post(server.url + CHAT, content=nested(MAX_DEPTH), headers=JSON)
    assert at_limit.status_code == 400
    assert "deeper" not in at_limit.json()["error"]["message"]  # pydantic's own complaint
    past = http.post(server.url + CHAT, content=nested(MAX_DEPTH + 1), headers=JSON)
    assert past.status_code == 400
    assert past.json()["error"]["message"] == (
        f"request body nests JSON deeper than {MAX_DEPTH} levels")


def test_invalid_utf8_names_the_byte_and_nan_is_not_a_number(server, http):
    r = http.post(server.url + CHAT, content=chat('"caf') + b'\xe9"}]}', headers=JSON)
    assert r.status_code == 400
    assert "not valid UTF-8: byte 0xe9" in r.json()["error"]["message"]
    r = http.post(server.url + CHAT, headers=JSON, content=json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}]})[:-1].encode()
        + b', "temperature": NaN}')
    assert r.status_code == 400 and "NaN is not a JSON number" in r.json()["error"]["message"]


def test_a_body_without_a_json_content_type_is_refused_not_guessed(server, http):
    for body in (chat('"\\ud800"'), b"\xff\xfe", chat('"plain words"')):
        r = http.post(server.url + CHAT, content=body, headers={"content-type": "text/plain"})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["type"] == "invalid_request_error"
        assert http.post(server.url + CHAT, content=body).status_code == 400
