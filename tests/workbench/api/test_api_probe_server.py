"""The server under a hostile burst: every request answered, refused with a clear 4xx, or told
429 with an honest Retry-After; no hang, no 5xx (issue 13's reliability probe).

The whole app (`app.build_app`: API, UI and key gate) is served on loopback over a paced echo
backend (api_harness.py) with a queue of 8; the burst comes from a second process
(api_probe_client.py): 40 well-formed requests at once, mixed with malformed JSON, invalid UTF-8,
100,000-deep nesting, a lone surrogate, max_tokens of 10^9, a negative temperature and two
50 MB bodies, in both protocols. The summary line is the figure for bench/RESULTS_RELIABILITY.md.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from api_harness import LiveServer, PacedEchoBackend

import app as entry
from workbench.api.routing import MAX_BODY_BYTES
from workbench.config import Settings

MODEL = "paced-echo"
KEY = "probe-key"
CLIENT = Path(__file__).with_name("api_probe_client.py")
N = 40
EXPECTED = {  # case -> statuses that are a clear, correct refusal (or an answer)
    "malformed": {400}, "bad_utf8": {400}, "deep_json": {400}, "deep_in_field": {400},
    "lone_surrogate": {400}, "negative_temperature": {400},
    # refused with the budget, or capped to the window (then queued like any other)
    "max_tokens_1e9": {200, 413, 429},
    # chunked: read up to the limit and refused; the server then closes on the rest, and a
    # client still sending may see that close (a reset) before the 413 it was sent
    "body_50mb_declared": {413}, "body_50mb_chunked": {413, "reset"},
}
PHRASES = {"malformed": "not valid JSON", "bad_utf8": "not valid UTF-8",
           "deep_json": "deeper than", "deep_in_field": "deeper than",
           "lone_surrogate": "surrogate", "negative_temperature": "temperature",
           "body_50mb_declared": "exceeds the limit", "body_50mb_chunked": "exceeds the limit"}


class AppServer(LiveServer):
    def __init__(self, app):
        super().__init__(app)
        self.server.config.lifespan = "on"  # Gradio starts its queue in the lifespan


def message_of(result: dict) -> str:
    body = result["body"]
    if result["kind"] == "anthropic":
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}, body
        return body["error"]["message"]
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]["message"]


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    backend = PacedEchoBackend(delay_s=0.08, context_window=256)
    settings = Settings(data_dir=tmp_path_factory.mktemp("probe") / "data", model=MODEL,
                        api_key=KEY, api_queue_size=8)
    app = entry.build_app(settings)
    app.state.ctx.set_backend(backend)
    with AppServer(app) as live:
        proc = subprocess.run([sys.executable, str(CLIENT), live.url, MODEL, KEY, str(N)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        results = [json.loads(line) for line in proc.stdout.splitlines()]
        health = httpx.get(f"{live.url}/healthz", timeout=10).json()
        again = httpx.post(f"{live.url}/v1/chat/completions", timeout=30, json={
            "model": MODEL, "messages": [{"role": "user", "content": "still here"}]},
            headers={"authorization": f"Bearer {KEY}"})
    yield results, backend, health, again


def summary(results: list[dict]) -> dict:
    codes = [r["status"] for r in results]
    ints = [c for c in codes if isinstance(c, int)]
    return {"sent": len(results), "answered": sum(c == 200 for c in ints),
            "refused_4xx": sum(400 <= c < 500 and c != 429 for c in ints),
            "told_429": ints.count(429), "failed_5xx": sum(c >= 500 for c in ints),
            "closed_after_refusal": codes.count("reset"),
            "hangs": len(codes) - len(ints) - codes.count("reset")}


def test_nothing_hangs_nothing_fails_and_the_server_stays_up(probe):
    results, backend, health, again = probe
    figures = summary(results)
    print(f"\nprobe: {figures}; by status {dict(Counter(r['status'] for r in results))}")
    assert figures["sent"] == N + 2 * 7 + 2  # every request came back with a line
    assert figures["hangs"] == 0, [r for r in results if not isinstance(r["status"], int)]
    assert figures["failed_5xx"] == 0, [r for r in results
                                        if isinstance(r["status"], int) and r["status"] >= 500]
    assert health["queue"] == {"running": 0, "waiting": 0, "size": 8}
    assert again.json()["choices"][0]["message"]["content"] == "still here"
    assert backend.max_running == 1


def test_each_hostile_request_gets_its_own_clear_refusal(probe):
    results = probe[0]
    for r in (r for r in results if r["case"] != "well_formed"):
        assert r["status"] in EXPECTED[r["case"]], r
        if r["status"] not in (200, "reset"):
            assert PHRASES.get(r["case"], "") in message_of(r), r
    large = {r["case"]: r for r in results if r["case"].startswith("body_50mb")}
    # Declared: refused on the header alone, before any of the 50 MB was sent.
    assert large["body_50mb_declared"]["sent_bytes"] == 0
    assert str(MAX_BODY_BYTES) in message_of(large["body_50mb_declared"])
    # Chunked: read up to the limit, then refused (how much more the sender pushed into the
    # sockets' buffers meanwhile depends on the kernel, so it is reported, not asserted).
    chunked = large["body_50mb_chunked"]
    print(f"\nchunked 50 MB body: {chunked['status']} after {chunked['sent_bytes']:,} bytes "
          f"sent (limit {MAX_BODY_BYTES:,})")


def test_the_burst_is_served_or_told_when_to_come_back(probe):
    results = probe[0]
    good = [r for r in results if r["case"] == "well_formed"]
    assert {r["status"] for r in good} <= {200, 429}
    assert all(r["complete"] for r in good if r["status"] == 200)
    served = [r for r in results if r["status"] == 200]
    refused = [r for r in results if r["status"] == 429]
    assert 9 <= len(served) < N and refused  # 1 running + 8 waiting, at least
    for r in refused:
        assert r["retry_after"].isdigit() and int(r["retry_after"]) >= 1, r
        assert r["body"]["error"]["type"] == "rate_limit_error"
        assert f"retry in {r['retry_after']} s" in message_of(r)
    # Honest: by the time the first refused client was told to come back, the line it was
    # turned away from had drained (the estimate may be pessimistic, never optimistic).
    told_back_at = min(r["ended_s"] + int(r["retry_after"]) for r in refused)
    drained_at = max(r["ended_s"] for r in served)
    print(f"\nRetry-After: {sorted({int(r['retry_after']) for r in refused})} s; "
          f"line drained {drained_at - min(r['ended_s'] for r in refused):.1f} s after the "
          f"first refusal")
    assert drained_at <= told_back_at
