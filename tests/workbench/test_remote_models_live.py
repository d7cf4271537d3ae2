"""A second Longhand as a remote OpenAI model of the first, through the product only.

The second Longhand is `python app.py --api-only` on a loopback port (embedded default); the
first adds it with `add-model`, lists it with `models`, runs `synthesize --model NAME` over a
real screenplay through it, and serves it on its own HTTP API (`/v1/models`,
`/v1/chat/completions`, `/v1/messages/count_tokens`) beside its local model. Both Longhands hold
the same embedded tokenizer, so the first's counts (an estimate without --tokenizer, exact with
it) must equal what the second reports.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from embedded_cache import shared_cache_dir

from workbench import engine_control as control
from workbench.config import Settings
from workbench.context import AppContext

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCENES = "screenplays/vilcans__screenplain/scene-numbers.fountain"
QUESTION = [{"role": "user", "content": "Name one scene of a screenplay."}]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
    env["LONGHAND_CACHE_DIR"] = str(shared_cache_dir())
    return env


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=_env())


def ok_json(out: subprocess.CompletedProcess):
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


class Longhand:
    """`python app.py --api-only` on a free loopback port, stopped on exit."""

    def __init__(self, data_dir: Path, log: Path, *flags: str):
        self.url = f"http://127.0.0.1:{_port()}"
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "app.py", "--api-only", "--port", self.url.rsplit(":", 1)[1],
                 "--data-dir", str(data_dir), *flags], cwd=ROOT, env=_env(), stdout=out,
                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, log.read_text()
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


@pytest.fixture(scope="module")
def second(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("second")
    server = Longhand(tmp / "data", tmp / "app.log")
    yield server
    server.close()


@pytest.fixture(scope="module")
def first(tmp_path_factory, testdocs, second):
    data_dir = tmp_path_factory.mktemp("first") / "data"
    ok_json(cli(data_dir, "new-project", "Night Shift", "--json"))
    ok_json(cli(data_dir, "import", "Night Shift", str(testdocs / SCENES), "--json"))
    added = ok_json(cli(data_dir, "add-model", "second-longhand", "--url", second.url + "/v1",
                        "--protocol", "openai", "--remote-model", "smollm2-135m-instruct",
                        "--json"))
    assert added["tokenizer"] is None and added["api_key_env"] is None
    exact = ok_json(cli(data_dir, "add-model", "second-exact", "--url", second.url + "/v1",
                        "--remote-model", "smollm2-135m-instruct",
                        "--tokenizer", "smollm2-135m-instruct",
                        "--api-key-env", "SECOND_LONGHAND_KEY", "--json"))
    assert exact["tokenizer"] == "smollm2-135m-instruct"
    assert exact["api_key_env"] == "SECOND_LONGHAND_KEY"
    return data_dir


def test_models_lists_the_added_models_and_never_a_key(first):
    listed = {m["name"]: m for m in ok_json(cli(first, "models", "--json"))}
    remote = listed["second-exact"]
    assert remote["kind"] == "remote" and remote["protocol"] == "openai"
    assert remote["remote_model"] == "smollm2-135m-instruct"
    assert listed["smollm2-135m-instruct"]["kind"] == "embedded"
    assert remote["api_key_env"] == "SECOND_LONGHAND_KEY"


def test_synthesize_answers_through_the_second_longhand(first, second):
    data = ok_json(cli(first, "synthesize", "Night Shift", "--prompt",
                       "Who is in the first scene?", "--model", "second-longhand",
                       "--max-new-tokens", "12", "--json"))
    assert data["text"].strip() and data["strategy"] == "whole"
    assert data["engine"] == {
        "model": "second-longhand", "backend": "openai_compat", "kernels": None,
        "precision": None,
        "placement": {"server": second.url + "/v1", "remote_model": "smollm2-135m-instruct"}}
    budget = data["budget"]
    assert budget["window"] == 8192  # from the second Longhand's /v1/models
    assert "estimate" in budget["estimate"] and "--tokenizer" in budget["estimate"]
    # the second Longhand counted the same prompt with the same tokenizer
    assert data["usage"]["prompt_tokens"] == budget["prompt_tokens"]
    assert 0 < data["usage"]["completion_tokens"] <= 12
    arts = ok_json(cli(first, "artifacts", "Night Shift", "--json"))
    assert arts[-1]["id"] == data["artifact_id"] and arts[-1]["model"] == "second-longhand"


def test_exact_tokenizer_and_key_variable(first):
    args = ("synthesize", "Night Shift", "--task", "coverage", "--model", "second-exact",
            "--max-new-tokens", "8", "--json")
    unset = cli(first, *args)
    assert unset.returncode == 2 and "SECOND_LONGHAND_KEY" in unset.stderr, unset.stderr
    out = subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(first), *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**_env(), "SECOND_LONGHAND_KEY": "not-a-real-key"})
    data = ok_json(out)
    assert "estimate" not in data["budget"]
    assert data["usage"]["prompt_tokens"] == data["budget"]["prompt_tokens"]
    assert b"not-a-real-key" not in (first / "workbench.db").read_bytes()


def test_first_longhand_serves_the_remote_model_on_its_http_api(first, second, tmp_path):
    own = httpx.post(second.url + "/v1/messages/count_tokens", timeout=60,
                     json={"model": "smollm2-135m-instruct", "messages": QUESTION}).json()
    app = Longhand(first, tmp_path / "first.log")
    try:
        ids = [m["id"] for m in httpx.get(app.url + "/v1/models", timeout=30).json()["data"]]
        assert ids[0] == "smollm2-135m-instruct" and "second-exact" in ids
        counted = httpx.post(app.url + "/v1/messages/count_tokens", timeout=120,
                             json={"model": "second-longhand", "messages": QUESTION})
        assert counted.status_code == 200, counted.text
        assert counted.json()["input_tokens"] == own["input_tokens"] > 0
        no_key = httpx.post(app.url + "/v1/messages/count_tokens", timeout=120,
                            json={"model": "second-exact", "messages": QUESTION})
        assert no_key.status_code == 400 and "SECOND_LONGHAND_KEY" in no_key.text
        answer = httpx.post(app.url + "/v1/chat/completions", timeout=300, json={
            "model": "second-longhand", "messages": QUESTION, "max_tokens": 8,
            "temperature": 0})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"] == "second-longhand"
        assert body["choices"][0]["message"]["content"].strip()
        assert body["usage"]["prompt_tokens"] == own["input_tokens"]
    finally:
        app.close()


def test_remove_model_removes_it_everywhere(first, second):
    ok_json(cli(first, "add-model", "temporary", "--url", second.url + "/v1", "--remote-model",
                "smollm2-135m-instruct", "--json"))
    assert "temporary" in [m["name"] for m in ok_json(cli(first, "models", "--json"))]
    assert ok_json(cli(first, "remove-model", "temporary", "--json"))["name"] == "temporary"
    names = [m["name"] for m in ok_json(cli(first, "models", "--json"))]
    assert "temporary" not in names and "second-longhand" in names
    gone = cli(first, "synthesize", "Night Shift", "--task", "coverage", "--model",
               "temporary", "--json")
    assert gone.returncode == 2 and "temporary" in gone.stderr
    again = cli(first, "remove-model", "temporary")
    assert again.returncode == 2 and again.stderr.startswith("error: no added model named")


def test_engine_tab_loads_an_added_model_and_chats_through_it(first):
    ctx = AppContext.from_settings(Settings(data_dir=first, cache_dir=shared_cache_dir()))
    backend = control.load_choice(ctx, control.EngineChoice(source="added",
                                                            added="second-longhand"))
    assert ctx.backend() is backend and backend.context_window == 8192
    rows = dict(control.status_rows(backend))
    assert rows["Model"] == "second-longhand"
    assert rows["Model on the server"] == "smollm2-135m-instruct"
    assert rows["Token counts"].startswith("an estimate")
    answer = list(control.chat(backend, [], "Name one scene of a screenplay.",
                               max_new_tokens=8))
    assert answer and answer[-1].strip()


def test_app_runs_on_an_added_model(first, tmp_path):
    app = Longhand(first, tmp_path / "app.log", "--model", "second-longhand")
    try:
        health = httpx.get(app.url + "/healthz", timeout=30).json()
        assert health["model"] == "second-longhand"
        ids = [m["id"] for m in httpx.get(app.url + "/v1/models", timeout=30).json()["data"]]
        assert ids[0] == "second-longhand" and "smollm2-135m-instruct" not in ids
        answer = httpx.post(app.url + "/v1/chat/completions", timeout=300, json={
            "model": "second-longhand", "messages": QUESTION, "max_tokens": 8})
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"].strip()
    finally:
        app.close()
