"""With the admin key set, client keys open the API but never the UI; the admin's Usage tab
shows their requests.

The whole app (`app.build_app`: API + Gradio UI behind `KeyGate`) on loopback, probed over real
HTTP; the Usage tab is driven after login through Gradio's REST API, as a browser would.
"""
from __future__ import annotations

import json

import httpx
import pytest
from api_harness import LiveServer, PacedEchoBackend

import app as entry
from workbench.config import Settings

ADMIN = "admin-key-0123"
MODEL = "paced-echo"
ASK = {"model": MODEL, "messages": [{"role": "user", "content": "alpha beta"}],
       "max_tokens": 4}


class AppServer(LiveServer):
    def __init__(self, app):
        super().__init__(app)
        self.server.config.lifespan = "on"  # Gradio starts its queue there


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    app = entry.build_app(Settings(data_dir=tmp_path_factory.mktemp("keys-ui") / "data",
                                   model=MODEL, api_key=ADMIN))
    app.state.ctx.set_backend(PacedEchoBackend(context_window=256))
    _, key = app.state.ctx.workbench.client_keys.create("writer")
    with AppServer(app) as live:
        yield live, app, key


def bearer(key: str) -> dict:
    return {"authorization": f"Bearer {key}"}


def test_a_client_key_opens_the_api_but_not_the_ui(served):
    live, _, key = served
    with httpx.Client(base_url=live.url, timeout=30) as client:
        r = client.post("/v1/chat/completions", json=ASK, headers=bearer(key))
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == \
            "alpha beta"
        r = client.post("/v1/messages", json=ASK, headers={"x-api-key": key})
        assert r.status_code == 200 and r.json()["content"][0]["text"] == "alpha beta"
        for path in ("/gradio_api/app_id", "/config", "/gradio_api/info"):
            assert client.get(path, headers=bearer(key)).status_code == 401, path
        bad = client.post("/v1/chat/completions", json=ASK, headers=bearer(key[:-2] + "xx"))
        assert bad.status_code == 401 and bad.json()["error"]["type"] == "authentication_error"


def test_the_usage_tab_shows_each_keys_requests_to_the_admin(served):
    live, app, key = served
    with httpx.Client(base_url=live.url, timeout=30) as client:
        for headers in (bearer(key), bearer(key), bearer(ADMIN)):
            assert client.post("/v1/chat/completions", json=ASK,
                               headers=headers).status_code == 200
        assert app.state.api.usage.flush()
        login = client.post("/login", data={"username": "admin", "password": ADMIN})
        assert login.status_code == 200, login.text
        started = client.post("/gradio_api/call/usage_report", json={"data": [""]})
        assert started.status_code == 200, started.text
        stream = client.get(f"/gradio_api/call/usage_report/{started.json()['event_id']}")
    assert "event: complete" in stream.text, stream.text
    table, per_day, per_key = json.loads(stream.text.split("data: ", )[-1])
    rows = {r[0]: r for r in table["data"]}
    assert set(rows) >= {"writer", "admin"}
    assert rows["admin"][1] == 1 and rows["writer"][1] >= 2  # requests
    assert rows["writer"][3] > 0 and rows["writer"][6] > 0  # prompt tokens, cost
    assert "writer" in json.dumps(per_day) and "writer" in json.dumps(per_key)
