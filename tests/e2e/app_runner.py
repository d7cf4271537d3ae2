"""Start the real app (`python app.py`) on a free loopback port with a tmp data dir, under the
socket guard (socket_guard.py), and stop it. Its own module so test files can import it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
GUARD = Path(__file__).with_name("socket_guard.py")
START_TIMEOUT_S = 120


@dataclass
class RunningApp:
    url: str
    data_dir: Path
    netlog: Path
    log: Path
    startup_s: float
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(tmp: Path, *flags: str, prefix: tuple[str, ...] = ()) -> RunningApp:
    """`prefix` runs the guarded app under another command (test_privacy.py: strace)."""
    data_dir, netlog, log = tmp / "data", tmp / "netlog.jsonl", tmp / "app.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LONGHAND_", "GRADIO_", "HF_"))}
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*prefix, sys.executable, str(GUARD), str(netlog), "app.py", "--port", str(port),
             "--data-dir", str(data_dir), *flags],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = started + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the app exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.perf_counter() > deadline:
            proc.kill()
            pytest.fail(f"the app did not answer within {START_TIMEOUT_S} s:\n{log.read_text()}")
        time.sleep(0.1)
    return RunningApp(url, data_dir, netlog, log, time.perf_counter() - started, proc)


def stop_app(app: RunningApp) -> None:
    app.process.terminate()
    try:
        app.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait(timeout=15)
