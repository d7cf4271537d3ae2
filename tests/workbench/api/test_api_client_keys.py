"""Client keys made with the CLI gate a live server, their limits answer 429, usage is summed.

Real parts throughout: `python -m workbench keys ...` and `usage ...` as subprocesses on the
server's own data dir (a real SQLite file), the server on loopback (app.build_app, API only),
the official openai and anthropic SDKs as clients, and the harness's paced echo backend as the
model (answers are the prompt's words, so token counts are known).
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from api_harness import LiveServer, PacedEchoBackend

import app as entry
from workbench.cli import main
from workbench.config import Settings

ROOT = Path(__file__).resolve().parents[3]
MODEL = "paced-echo"
USER = [{"role": "user", "content": "alpha beta"}]
KEY_SHAPE = re.compile(r"^lh_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=clean)


def ok_json(out: subprocess.CompletedProcess):
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def run(capsys, data_dir: Path, *args: str) -> tuple[int, str, str]:
    """The same CLI in this process (a subprocess costs seconds on a busy machine)."""
    capsys.readouterr()
    try:
        code = main(["--data-dir", str(data_dir), *args])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def new_key(data_dir: Path, name: str, *flags: str, capsys=None) -> str:
    if capsys is None:
        made = ok_json(cli(data_dir, "keys", "create", name, *flags, "--json"))
    else:
        code, out, err = run(capsys, data_dir, "keys", "create", name, *flags, "--json")
        assert code == 0, err
        made = json.loads(out)
    assert made["name"] == name and KEY_SHAPE.match(made["key"]), made
    return made["key"]


@contextmanager
def serve(data_dir: Path, **settings):
    app = entry.build_app(Settings(data_dir=data_dir, model=MODEL, api_only=True, **settings))
    app.state.ctx.set_backend(PacedEchoBackend(context_window=256))
    with LiveServer(app) as live:
        live.api, live.app = app.state.api, app
        yield live


@pytest.fixture
def served(tmp_path):
    with serve(tmp_path / "data") as live:
        yield live, tmp_path / "data"


def oai(live, key: str | None) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key=key or "unused", max_retries=0,
                         timeout=30)


def claude(live, key: str | None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=live.url, api_key=key or "unused", max_retries=0,
                               timeout=30)


def chat(live, key: str | None, **extra):
    return oai(live, key).chat.completions.create(model=MODEL, messages=USER, max_tokens=4,
                                                  **extra)


def message(live, key: str | None):
    return claude(live, key).messages.create(model=MODEL, messages=USER, max_tokens=4)


def test_keys_from_the_cli_gate_the_api_and_revocation_counts_at_once(served):
    live, data = served
    assert chat(live, None).choices[0].message.content == "alpha beta"  # no keys yet: open
    alice, bob = new_key(data, "alice"), new_key(data, "bob")
    with sqlite3.connect(data / "workbench.db") as db:  # never read the file itself: closing
        stored = repr(db.execute("SELECT * FROM client_keys").fetchall())  # it drops locks
    assert alice.split("_", 2)[2] not in stored and alice.split("_")[1] in stored  # a hash

    with pytest.raises(openai.AuthenticationError) as no_key:
        chat(live, None)
    assert no_key.value.status_code == 401
    assert no_key.value.body["type"] == "authentication_error"
    with pytest.raises(anthropic.AuthenticationError) as no_key_an:
        message(live, "not-a-key")
    assert no_key_an.value.body["type"] == "error"
    assert no_key_an.value.body["error"]["type"] == "authentication_error"

    assert chat(live, alice).choices[0].message.content == "alpha beta"
    assert message(live, bob).content[0].text == "alpha beta"
    assert oai(live, alice).models.list().data[0].id == MODEL  # every API route takes a key

    assert ok_json(cli(data, "keys", "revoke", "alice", "--json"))["active"] is False
    with pytest.raises(openai.AuthenticationError) as revoked:
        chat(live, alice)  # the next request, same server process
    assert "revoked" in revoked.value.message
    assert chat(live, bob).choices[0].message.content == "alpha beta"

    rotated = ok_json(cli(data, "keys", "rotate", "bob", "--json"))["key"]
    assert KEY_SHAPE.match(rotated) and rotated != bob
    with pytest.raises(anthropic.AuthenticationError):
        message(live, bob)
    assert message(live, rotated).content[0].text == "alpha beta"
    listed = {k["name"]: k for k in ok_json(cli(data, "keys", "list", "--json"))}
    assert listed["alice"]["active"] is False and listed["bob"]["active"] is True
    assert "key" not in listed["bob"] and "secret_hash" not in listed["bob"]


def test_limits_answer_429_with_retry_after_and_change_without_restart(served, capsys):
    live, data = served
    key = new_key(data, "limited", "--rpm", "2", capsys=capsys)
    chat(live, key)
    message(live, key)
    with pytest.raises(openai.RateLimitError) as over:
        chat(live, key)
    retry = int(over.value.response.headers["retry-after"])
    assert 1 <= retry <= 60 and over.value.body["type"] == "rate_limit_error"
    assert "2 requests per minute" in over.value.message
    with pytest.raises(anthropic.RateLimitError) as over_an:
        message(live, key)
    assert over_an.value.body["error"]["type"] == "rate_limit_error"
    assert 1 <= int(over_an.value.response.headers["retry-after"]) <= 60

    assert run(capsys, data, "keys", "set-limits", "limited", "--rpm", "none")[0] == 0
    assert chat(live, key).choices[0].message.content == "alpha beta"

    assert run(capsys, data, "keys", "set-limits", "limited", "--tpm", "22")[0] == 0
    chat(live, key)  # 3 answers of 5 prompt + 2 completion tokens: 21 < 22
    with pytest.raises(openai.RateLimitError) as tokens:
        chat(live, key)
    assert "22 tokens per minute and 28 were used" in tokens.value.message
    assert 1 <= int(tokens.value.response.headers["retry-after"]) <= 60


def test_a_key_may_use_only_its_models_and_its_budget(served, capsys):
    live, data = served
    narrow = new_key(data, "narrow", "--models", "someone-else", capsys=capsys)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        chat(live, narrow)
    assert "may not use model 'paced-echo'" in denied.value.message
    with pytest.raises(anthropic.PermissionDeniedError) as denied_an:
        message(live, narrow)
    assert denied_an.value.body["error"]["type"] == "permission_error"
    # the models it may not use are not even named to it
    assert [m.id for m in oai(live, narrow).models.list().data] == []
    with pytest.raises(openai.NotFoundError) as hidden:
        oai(live, narrow).models.retrieve(MODEL)
    assert MODEL not in hidden.value.message.split("is not served here")[1]
    wide = oai(live, new_key(data, "wide", "--models", "other,paced-echo", capsys=capsys))
    assert wide.chat.completions.create(model=MODEL, messages=USER, max_tokens=4).choices
    assert [m.id for m in wide.models.list().data] == [MODEL]
    unlimited = oai(live, new_key(data, "any", capsys=capsys))
    assert MODEL in [m.id for m in unlimited.models.list().data]

    thrifty = new_key(data, "thrifty", "--budget", "0.000001", capsys=capsys)
    chat(live, thrifty)  # costs about 1.3e-6 USD at the first listed price
    assert live.api.usage.flush()
    with pytest.raises(openai.RateLimitError) as spent:
        chat(live, thrifty)
    assert spent.value.body["code"] == "insufficient_quota"
    assert "retry-after" not in spent.value.response.headers  # waiting will not help

    brief = new_key(data, "brief", "--expires", "2999-01-01", capsys=capsys)
    assert chat(live, brief).choices
    past = datetime.now(timezone.utc) - timedelta(minutes=1)  # the CLI refuses a past date
    live.app.state.ctx.workbench.client_keys.store.set_limits("brief", {"expires_at": past})
    with pytest.raises(anthropic.AuthenticationError) as expired:
        message(live, brief)
    assert "expired" in expired.value.body["error"]["message"]


def test_usage_rows_are_kept_per_request_and_summed_by_the_cli(served, capsys):
    live, data = served
    one, two = new_key(data, "one", capsys=capsys), new_key(data, "two", capsys=capsys)
    answers = [chat(live, one), chat(live, one), chat(live, two)]
    streamed = list(oai(live, two).chat.completions.create(
        model=MODEL, messages=USER, max_tokens=4, stream=True,
        stream_options={"include_usage": True}))
    said = message(live, one)
    replied = oai(live, two).responses.create(model=MODEL, input="alpha beta",
                                              max_output_tokens=4)
    with pytest.raises(openai.AuthenticationError):
        chat(live, None)  # no key: refused, and no row (it is nobody's usage)
    assert live.api.usage.flush()

    rows = {r["key"]: r for r in ok_json(cli(data, "usage", "--by", "key", "--json"))["rows"]}
    assert set(rows) == {"one", "two"}
    assert rows["one"]["requests"] == 3 and rows["two"]["requests"] == 3
    assert rows["one"]["prompt_tokens"] == sum(a.usage.prompt_tokens for a in answers[:2]) \
        + said.usage.input_tokens
    assert rows["two"]["completion_tokens"] == answers[2].usage.completion_tokens \
        + streamed[-1].usage.completion_tokens + replied.usage.output_tokens
    assert all(r["cost"] > 0 and r["errors"] == 0 for r in rows.values())
    by_model = json.loads(run(capsys, data, "usage", "--by", "model", "--json")[1])["rows"]
    assert [(r["model"], r["requests"]) for r in by_model] == [(MODEL, 6)]
    by_day = json.loads(run(capsys, data, "usage", "--by", "day", "--since", "2000-01-01",
                            "--json")[1])
    assert sum(r["requests"] for r in by_day["rows"]) == 6
    assert json.loads(run(capsys, data, "usage", "--since", "2999-01-01", "--json")[1]) \
        == {"rows": []}

    table = cli(data, "usage", "--by", "key", "--csv")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.strip().splitlines()
    assert lines[0].startswith("key,requests,errors,prompt_tokens,completion_tokens")
    assert lines[1].startswith("one,3,0,") and lines[2].startswith("two,3,0,")
    code, _, err = run(capsys, data, "usage", "--since", "yesterday")
    assert code == 2 and "YYYY-MM-DD" in err

    with sqlite3.connect(data / "workbench.db") as db:
        kept = db.execute("SELECT endpoint, status, ttft_ms, latency_ms, prompt "
                          "FROM api_usage").fetchall()
    assert len(kept) == 6 and {k[0] for k in kept} == {"/v1/chat/completions", "/v1/messages",
                                                       "/v1/responses"}
    assert all(k[1] == 200 and k[2] is not None and k[3] >= k[2] for k in kept)
    assert all(k[4] is None for k in kept)  # no prompt text unless --store-prompts


def test_store_prompts_keeps_the_prompt_text(tmp_path):
    flag = entry.parse_settings(["--store-prompts"], env={}).store_prompts
    assert flag is True and entry.parse_settings([], env={}).store_prompts is False
    with serve(tmp_path / "data", store_prompts=flag) as live:
        chat(live, None)
        assert live.api.usage.flush()
    with sqlite3.connect(tmp_path / "data" / "workbench.db") as db:
        assert db.execute("SELECT prompt FROM api_usage").fetchall() == [("user: alpha beta",)]


def test_bad_limits_are_refused_by_the_cli(tmp_path, capsys):
    data = tmp_path / "data"
    for flags, said in ((("--rpm", "0"), "at least 1"), (("--budget", "-3"), "above 0"),
                        (("--expires", "2001-01-01"), "in the past"),
                        (("--expires", "soon"), "not a date"), (("--name",), "")):
        code, _, err = run(capsys, data, "keys", "create", "k", *flags)
        assert code == 2 and said in err, (flags, err)
    assert run(capsys, data, "keys", "list", "--json")[1].strip() == "[]"  # nothing changed
    new_key(data, "k", capsys=capsys)
    code, _, err = run(capsys, data, "keys", "create", "k")
    assert code == 2 and "already exists" in err
    code, _, err = run(capsys, data, "keys", "revoke", "nobody")
    assert code == 2 and "no client key named 'nobody'" in err
    code, _, err = run(capsys, data, "keys", "set-limits", "k")
    assert code == 2 and "at least one limit" in err
