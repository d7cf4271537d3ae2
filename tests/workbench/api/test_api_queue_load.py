"""Admission under load, and disconnects: a live server with a paced backend, clients elsewhere.

The load comes from a second process (api_load_client.py) so that the server's event loop and
the clients do not share a thread or a GIL schedule.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from api_harness import LiveServer, PacedEchoBackend, wait_until

from workbench.api import create_api_app
from workbench.config import Settings

MODEL = "paced-echo"
CLIENT = Path(__file__).with_name("api_load_client.py")
LONG = " ".join(f"w{i}" for i in range(40))


def serve(backend: PacedEchoBackend, queue_size: int) -> LiveServer:
    settings = Settings(model=MODEL, api_queue_size=queue_size)
    return LiveServer(create_api_app(settings, lambda: backend))


def queue_state(url: str) -> dict:
    return httpx.get(f"{url}/healthz", timeout=5).json()["queue"]


def test_forty_concurrent_requests_against_a_queue_of_eight():
    backend = PacedEchoBackend(delay_s=0.08)
    with serve(backend, queue_size=8) as live:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(CLIENT), live.url, MODEL, "40"],
                              capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr
        results = [json.loads(line) for line in proc.stdout.splitlines()]
        assert sorted(r["i"] for r in results) == list(range(40))  # none lost
        statuses = [r["status"] for r in results]
        assert set(statuses) <= {200, 429}, results  # none hung, nothing else
        served = [r for r in results if r["status"] == 200]
        refused = [r for r in results if r["status"] == 429]
        assert all(r["complete"] for r in served), served
        assert 9 <= len(served) < 40 and refused
        for r in refused:
            assert int(r["retry_after"]) >= 1
            assert r["error"] == ("rate_limit_error")
        assert backend.max_running == 1  # one generation at a time on the local model
        assert backend.started == len(served)
        assert queue_state(live.url) == {"running": 0, "waiting": 0, "size": 8}
        again = httpx.post(f"{live.url}/v1/chat/completions", timeout=30, json={
            "model": MODEL, "messages": [{"role": "user", "content": "still alive"}]})
        assert again.json()["choices"][0]["message"]["content"] == "still alive"
    print(f"load: {len(served)} served, {len(refused)} refused in {elapsed:.2f}s")


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_streaming_client_disconnect_cancels_and_frees_the_slot(path):
    backend = PacedEchoBackend(delay_s=0.1, context_window=4096)
    body = {"model": MODEL, "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": LONG}]}
    with serve(backend, queue_size=0) as live:
        with httpx.Client(base_url=live.url, timeout=30) as c:
            with c.stream("POST", path, json=body) as r:
                assert r.status_code == 200
                chunks = r.iter_raw()  # keep a reference: a dropped iterator hangs up
                next(chunks)
                busy = httpx.post(live.url + path, json=body, timeout=30)
                assert busy.status_code == 429 and int(busy.headers["retry-after"]) >= 1
        hung_up = time.monotonic()
        assert wait_until(lambda: backend.cancelled == 1, timeout=5)
        assert wait_until(lambda: queue_state(live.url)["running"] == 0, timeout=5)
        assert time.monotonic() - hung_up < 2.0  # freed within a few tokens, not 4 s later
        short = dict(body, stream=False, messages=[{"role": "user", "content": "next one"}])
        assert httpx.post(live.url + path, json=short, timeout=30).status_code == 200


def test_non_streaming_disconnect_and_leaving_the_line_free_their_places():
    backend = PacedEchoBackend(delay_s=0.1, context_window=4096)
    body = {"model": MODEL, "max_tokens": 100,
            "messages": [{"role": "user", "content": LONG}]}
    url = "/v1/chat/completions"
    with serve(backend, queue_size=1) as live:
        # A runs (client gives up after 0.5 s), B waits in line (gives up too).
        with pytest.raises(httpx.ReadTimeout):
            with httpx.Client(base_url=live.url, timeout=0.5) as c:
                c.post(url, json=body)
        assert wait_until(lambda: backend.cancelled == 1, timeout=5)
        with httpx.Client(base_url=live.url, timeout=30) as c:
            with c.stream("POST", url, json=dict(body, stream=True)) as running:
                chunks = running.iter_raw()
                next(chunks)
                with pytest.raises(httpx.ReadTimeout):
                    httpx.post(live.url + url, json=body, timeout=0.5)
                assert wait_until(lambda: queue_state(live.url)["waiting"] == 0, timeout=5)
                assert queue_state(live.url)["running"] == 1
        assert wait_until(lambda: queue_state(live.url)["running"] == 0, timeout=5)
        assert backend.started == 2  # the one that left the line never reached the engine
        ok = httpx.post(live.url + url, timeout=30, json={
            "model": MODEL, "messages": [{"role": "user", "content": "fresh"}]})
        assert ok.json()["choices"][0]["message"]["content"] == "fresh"
