"""With a key set, nothing on the app's port answers without it, except the login page.

The whole app (`app.build_app`: the HTTP API and the Gradio UI on one FastAPI app) is served on
loopback and probed over real HTTP. Gradio leaves some of its own routes open even with `auth`
(`/gradio_api/reset`, `/cancel`, `/heartbeat/*` which holds an event stream open,
`/startup-events`, `/app_id`, `/openapi.json`, ...); each must refuse a caller without the key
or a UI session at once, and answer after login. The UI itself is driven after login through
Gradio's REST API, as a browser would.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest
from api_harness import LiveServer, PacedEchoBackend

import app as entry
from workbench.config import Settings
from workbench.library import Library

KEY = "gate-key-0123"
MODEL = "paced-echo"
USER = [{"role": "user", "content": "alpha beta"}]
# (method, path, body): every one of these answered without login before the gate.
GRADIO_OPEN = [
    ("POST", "/gradio_api/reset", {"event_id": "x"}),
    ("POST", "/gradio_api/cancel", {"event_id": "x", "session_hash": "s", "fn_index": 0}),
    ("GET", "/gradio_api/heartbeat/probe-session", None),
    ("GET", "/gradio_api/startup-events", None),
    ("GET", "/gradio_api/app_id", None),
    ("GET", "/openapi.json", None),
    ("GET", "/gradio_api/runs", None),
    ("GET", "/gradio_api/run-history/buckets", None),
    ("POST", "/gradio_api/vibe-edit", {"prompt": "x"}),
    ("GET", "/gradio_api/token", None),
    ("GET", "/monitoring/anything", None),
    ("POST", "/gradio_api/stream/some-event", None),
]
# Gradio checks these itself; the gate must keep refusing them.
GRADIO_CHECKED = [
    ("GET", "/config", None),
    ("GET", "/gradio_api/info", None),
    ("POST", "/gradio_api/call/create_project", {"data": ["x"]}),
    ("POST", "/gradio_api/queue/join", {"data": [], "fn_index": 0, "session_hash": "s"}),
]
API = [("GET", "/v1/models", None), ("POST", "/v1/chat/completions",
                                      {"model": MODEL, "messages": USER}),
       ("GET", "/v1/not-a-route", None)]


class AppServer(LiveServer):
    """The harness's server with the lifespan on: Gradio starts its queue there."""

    def __init__(self, app):
        super().__init__(app)
        self.server.config.lifespan = "on"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data = tmp_path_factory.mktemp("gate") / "data"
    settings = Settings(data_dir=data, model=MODEL, api_key=KEY)
    app = entry.build_app(settings)
    app.state.ctx.set_backend(PacedEchoBackend(context_window=256))
    with AppServer(app) as live:
        yield live, data


def ask(client: httpx.Client, method: str, path: str, body) -> tuple[int, str]:
    """Status and text; an event stream is read only as far as its status line."""
    with client.stream(method, path, json=body, timeout=10) as r:
        if r.headers.get("content-type", "").startswith("text/event-stream"):
            return r.status_code, ""
        return r.status_code, r.read().decode()


@contextmanager
def logged_in(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        r = client.post("/login", data={"username": "writer", "password": KEY})
        assert r.status_code == 200 and r.json() == {"success": True}, r.text
        yield client


@pytest.mark.parametrize("method,path,body", GRADIO_OPEN + GRADIO_CHECKED + API)
def test_refused_without_credentials(served, method, path, body):
    live, _ = served
    with httpx.Client(base_url=live.url) as anonymous:
        status, text = ask(anonymous, method, path, body)
        assert status == 401, (path, status, text[:200])
    with httpx.Client(base_url=live.url, headers={"authorization": "Bearer nope"}) as wrong:
        assert ask(wrong, method, path, body)[0] == 401
    if path.startswith("/v1/"):
        assert json.loads(text)["error"]["type"] == "authentication_error"
    else:
        assert "log in" in json.loads(text)["detail"]


# Run history answers a session with its own 401 ("sign in to use run history", a Hugging Face
# account): Gradio's answer, past the gate, so it is left out here.
AFTER_LOGIN = [r for r in GRADIO_OPEN + GRADIO_CHECKED if "run-history" not in r[1]]


@pytest.mark.parametrize("method,path,body", AFTER_LOGIN)
def test_answered_after_login(served, method, path, body):
    live, _ = served
    with logged_in(live.url) as client:
        status, text = ask(client, method, path, body)
        assert status != 401 and status < 500, (path, status, text[:200])


def test_the_login_page_and_what_it_needs_stay_open(served):
    live, _ = served
    with httpx.Client(base_url=live.url, timeout=30) as anonymous:
        page = anonymous.get("/")
        assert page.status_code == 200 and '"auth_required":true' in page.text.replace(" ", "")
        assets = re.findall(r'(?:src|href)="\.?(/assets/[^"]+)"', page.text)
        assert assets
        for asset in assets[:3] + ["/theme.css", "/favicon.ico"]:
            assert anonymous.get(asset).status_code == 200, asset
        assert anonymous.get("/healthz").json()["status"] == "ok"
        refused = anonymous.post("/login", data={"username": "writer", "password": "guess"})
        assert refused.status_code == 400


def test_the_key_opens_the_api_and_a_session_opens_the_ui(served):
    live, data = served
    with httpx.Client(base_url=live.url, timeout=30,
                      headers={"authorization": f"Bearer {KEY}"}) as keyed:
        r = keyed.post("/v1/chat/completions", json={"model": MODEL, "messages": USER})
        assert r.json()["choices"][0]["message"]["content"] == "alpha beta"
        assert keyed.get("/gradio_api/app_id").status_code == 200
    with logged_in(live.url) as client:
        assert client.get("/v1/models").status_code == 401  # a UI session is not an API key
        started = client.post("/gradio_api/call/create_project", json={"data": ["Gated"]})
        assert started.status_code == 200, started.text
        event_id = started.json()["event_id"]
        stream = client.get(f"/gradio_api/call/create_project/{event_id}").text
        assert "event: complete" in stream, stream
    with Library.open(data) as lib:
        assert "Gated" in [p.name for p in lib.list_projects()]
