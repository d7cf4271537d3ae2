"""Nothing leaves the machine: the real app, with every non-loopback connection and name look-up
refused and recorded by a socket guard (its Python children too), starts, serves the UI and runs
a full import through the UI's own HTTP endpoints (Gradio's REST API, as a browser would
upload), including the first tokenizer load; a slow run-through goes on to a synthesis on the
embedded default, a short LoRA training and an HTTP API answer in the same process. The guard's
record must stay empty: no analytics, no Hub look-ups, no CDNs.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal

import httpx
import pytest

from app_runner import start_app, stop_app
from browser_pages import LOAD_TIMEOUT_MS, READY_SELECTOR
from socket_guard import read_log
from workbench.library import Library

SHERLOCK = "prose/jsvine__markovify/sherlock.txt"
FILES = ("screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain",
         "transcripts/glut23__webvtt-py/sample.vtt",
         "pdfs/allenai__s2orc-doc2json/2020.acl-main.207.pdf")


def call(client: httpx.Client, api_name: str, *data) -> list:
    """Gradio's REST API: POST the inputs, then read the event stream until `complete`."""
    started = client.post(f"/gradio_api/call/{api_name}", json={"data": list(data)})
    started.raise_for_status()
    event_id = started.json()["event_id"]
    event = None
    with client.stream("GET", f"/gradio_api/call/{api_name}/{event_id}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = json.loads(line.split(":", 1)[1])
                if event == "error":
                    pytest.fail(f"{api_name} failed: {payload}")
                return payload
    pytest.fail(f"{api_name}: the event stream ended without a result")


@pytest.mark.e2e
def test_full_import_with_the_network_refused(running_app, testdocs):
    with httpx.Client(base_url=running_app.url, timeout=300) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert client.get("/config").json()["title"] == "Longhand"
        assert client.get("/healthz").json()["status"] == "ok"
        call(client, "create_project", "Private")
        uploads = client.post("/gradio_api/upload", files=[
            ("files", ((testdocs / p).name, (testdocs / p).read_bytes())) for p in FILES])
        uploads.raise_for_status()
        files = [{"path": path, "orig_name": (testdocs / f).name,
                  "meta": {"_type": "gradio.FileData"}} for path, f in zip(uploads.json(), FILES)]
        _, table, _, status = call(client, "import_files", "Private", files, "notes")
        assert status.startswith("Imported 3 files")
        rows = {row[3]: row for row in table["data"]}  # by format
        assert set(rows) == {"fountain", "vtt", "pdf"}
        assert "3 scenes" in rows["fountain"][7] and "16 cues" in rows["vtt"][7]
        assert "13 pages" in rows["pdf"][7]
        assert all(row[4] == "notes" and row[6] > 0 for row in rows.values())
        hits = call(client, "search", "Private", "citation")[0]
        assert hits["data"] and {h[0] for h in hits["data"]} == {rows["pdf"][1]}
    with Library.open(running_app.data_dir) as lib:
        assert lib.count_rows()["documents"] == 3
    assert read_log(running_app.netlog) == [], "the app tried to reach beyond loopback"


def _style_excerpt(testdocs, words: int = 1500) -> bytes:
    raw = (testdocs / SHERLOCK).read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    out, count = [], 0
    for para in raw[raw.index("To Sherlock Holmes she is always"):].split("\n\n"):
        out.append(para)
        count += len(para.split())
        if count >= words:
            break
    return "\n\n".join(out).encode()


def _upload(client: httpx.Client, named: list[tuple[str, bytes]]) -> list[dict]:
    r = client.post("/gradio_api/upload", files=[("files", item) for item in named])
    r.raise_for_status()
    return [{"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}
            for path, (name, _) in zip(r.json(), named)]


STRACE = shutil.which("strace")
ADDRESS_RE = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"\)')


def beyond_loopback(strace_log) -> list[str]:
    """connect/sendto/sendmsg system calls (any thread, any child, native code included) whose
    address is not loopback, from `strace -f -e trace=connect,sendto,sendmsg`."""
    far = []
    for line in strace_log.read_text().splitlines():
        for v4, v6 in ADDRESS_RE.findall(line):
            ip = ipaddress.ip_address(v4 or v6)
            mapped = getattr(ip, "ipv4_mapped", None)
            if not (ip.is_loopback or (mapped is not None and mapped.is_loopback)):
                far.append(line)
    return far


@pytest.fixture
def traced_app(tmp_path):
    """The guarded app, under strace where it is installed: the socket guard sees Python's
    calls and refuses them; strace sees the system calls of every thread and child, so a
    native library that opened a socket by itself would show there."""
    trace = tmp_path / "strace.log"
    prefix = (STRACE, "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg",
              "-o", str(trace)) if STRACE else ()
    app = start_app(tmp_path, prefix=prefix)
    yield app, (trace if STRACE else None)
    if STRACE:  # strace detaches on SIGTERM: stop the app itself first
        children = f"/proc/{app.process.pid}/task/{app.process.pid}/children"
        for pid in open(children).read().split():
            os.kill(int(pid), signal.SIGTERM)
    stop_app(app)


@pytest.mark.e2e
@pytest.mark.slow
def test_a_full_run_through_opens_nothing_beyond_loopback(traced_app, testdocs):
    """Import, synthesis on the embedded default, a short LoRA training and an API answer,
    all in the guarded app process: nothing is refused, because nothing reached out."""
    running_app, trace = traced_app
    script = testdocs / FILES[0]
    with httpx.Client(base_url=running_app.url, timeout=600) as client:
        call(client, "create_project", "Private")
        _, table, _, status = call(client, "import_files", "Private",
                                   _upload(client, [(script.name, script.read_bytes())]),
                                   "draft")
        assert status.startswith("Imported 1 file"), status
        # Documents [] means all of them: Gradio checks a REST caller's picks against the
        # choices a browser session would have been shown, and this caller has no session.
        job, status, answer, _ = call(client, "start", "Private", [], "coverage", "",
                                      "smollm2-135m-instruct", 16, False, None, False)
        assert "done" in status and "tokens in" in status, status
        assert "lh-answer" in answer

        _, table, _, status = call(client, "import_files", "Private",
                                   _upload(client, [("scandal.txt", _style_excerpt(testdocs))]),
                                   "style")
        assert status.startswith("Imported 1 file"), status
        summary = call(client, "run_training", "Private", [], 3, 2, 0.001, 48, 3, 2)[0]
        assert "held-out loss" in summary, summary  # trained and evaluated

        r = client.post("/v1/chat/completions", json={
            "model": "smollm2-135m-instruct", "max_tokens": 8,
            "messages": [{"role": "user", "content": "Say hello."}]})
        assert r.status_code == 200, r.text
        assert r.json()["usage"]["completion_tokens"] >= 1
    with Library.open(running_app.data_dir) as lib:
        assert lib.count_rows()["documents"] == 2
    assert read_log(running_app.netlog) == [], "the app tried to reach beyond loopback"
    if trace is not None:
        assert "sendto(" in trace.read_text()  # the tracer saw the app's own answers
        assert beyond_loopback(trace) == []


REACH_OUT = """
import asyncio, socket, subprocess, sys
import httpx

FAR = ("10.255.255.1", 80)  # private, unrouted here: the guard must stop it before connect()
server = socket.create_server(("127.0.0.1", 0))
socket.create_connection(server.getsockname(), timeout=5).close()  # loopback still works
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
attempts = {
    "connect": lambda: socket.socket().connect(FAR),
    "create_connection": lambda: socket.create_connection(FAR, timeout=5),
    "sendto": lambda: udp.sendto(b"x", ("10.255.255.1", 53)),
    "sendmsg": lambda: udp.sendmsg([b"x"], [], 0, ("10.255.255.1", 53)),
    "asyncio": lambda: asyncio.run(asyncio.open_connection(*FAR)),
    "httpx": lambda: httpx.get("http://10.255.255.1/", timeout=5),
    "resolve": lambda: socket.getaddrinfo("example.org", 443),
    "gethostbyname": lambda: socket.gethostbyname("example.org"),
}
for name, reach in attempts.items():
    try:
        reach()
        print(name, "NOT-CAUGHT")
    except Exception as exc:  # OSError, or httpx's wrapper of it
        print(name, "caught" if "socket guard:" in str(exc) else repr(exc))
child = ("import socket\\ntry:\\n socket.create_connection(('10.255.255.1', 80), timeout=5)\\n"
         "except OSError as exc:\\n print('child', 'caught' if 'socket guard:' in str(exc) "
         "else repr(exc))")
print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True).stdout)
"""


def test_the_guard_refuses_and_records_what_leaves_loopback(tmp_path):
    """The checks here can fail: a script that reaches for 10.255.255.1 (and a public name)
    every way Python can -- raw sockets, UDP, asyncio, an HTTP client, a child process -- under
    the same guard is caught every time, before any packet is sent, and each try is logged."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "reach_out.py"
    script.write_text(REACH_OUT)
    log = tmp_path / "netlog.jsonl"
    guard = Path(__file__).with_name("socket_guard.py")
    out = subprocess.run([sys.executable, str(guard), str(log), str(script)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.split("\n") if line.strip())
    assert lines == {name: "caught" for name in (
        "connect", "create_connection", "sendto", "sendmsg", "asyncio", "httpx", "resolve",
        "gethostbyname", "child")}, out.stdout
    entries = read_log(log)
    assert {e["kind"] for e in entries} == {"connect", "sendto", "resolve"}
    assert sum("10.255.255.1" in e["target"] for e in entries) >= 6
    assert len({e["pid"] for e in entries}) == 2  # the child logged to the same file


@pytest.mark.e2e
def test_with_a_key_the_browser_logs_in_and_the_ui_works(browser, tmp_path):
    """The key gate leaves the login page whole (nothing it loads is refused), and after
    login the UI works as before; a wrong password is refused."""
    from playwright.sync_api import expect

    key = "browser-gate-key"
    app = start_app(tmp_path, "--api-key", key)
    try:
        page = browser.new_page()
        seen: list[tuple[int, str]] = []
        page.on("response", lambda r: seen.append((r.status, r.url)))
        page.goto(app.url)
        password = page.locator("input[type=password]")
        password.wait_for(timeout=LOAD_TIMEOUT_MS)
        assert [s for s in seen if s[0] >= 400] == []
        page.locator("input").first.fill("writer")
        password.fill("not the key")
        page.get_by_role("button", name="Login").click()
        expect(page.get_by_text("Incorrect Credentials")).to_be_visible()
        page.locator("input").first.fill("writer")  # the form clears it after a refusal
        password.fill(key)
        page.get_by_role("button", name="Login").click()
        page.wait_for_selector(READY_SELECTOR, state="attached", timeout=LOAD_TIMEOUT_MS)
        page.locator("#lh-new-project").locator("textarea, input").first.fill("Behind the key")
        page.locator("#lh-create").click()
        expect(page.locator("#lh-project input")).to_have_value("Behind the key")
        assert all(url.startswith(app.url) for _, url in seen)
        assert [s for s in seen if s[0] == 401 and "/login" not in s[1]] == []
    finally:
        stop_app(app)
    with Library.open(app.data_dir) as lib:
        assert [p.name for p in lib.list_projects()] == ["Behind the key"]
    assert read_log(app.netlog) == []


NATIVE_REACH = """
import ctypes, socket, struct
# A UDP socket's connect() only names the peer: no packet leaves. Done through libc, behind
# the Python guard's back, as a native library would.
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
address = (struct.pack("=H", socket.AF_INET) + struct.pack("!H", 53)
           + socket.inet_aton("10.255.255.1") + bytes(8))
print(ctypes.CDLL(None, use_errno=True).connect(udp.fileno(), address, len(address)))
"""


@pytest.mark.skipif(STRACE is None, reason="strace is not installed")
def test_strace_sees_what_native_code_does_behind_the_guard(tmp_path):
    """The strace layer of the run-through can fail: a connect() made through libc escapes the
    Python guard, and strace's record shows it."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "native.py"
    script.write_text(NATIVE_REACH)
    log, trace = tmp_path / "netlog.jsonl", tmp_path / "strace.log"
    guard = Path(__file__).with_name("socket_guard.py")
    out = subprocess.run([STRACE, "-f", "-qq", "--seccomp-bpf", "-e",
                          "trace=connect,sendto,sendmsg", "-o", str(trace), sys.executable,
                          str(guard), str(log), str(script)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "0", (out.stdout, out.stderr)
    assert read_log(log) == []  # the Python guard never saw it
    far = beyond_loopback(trace)
    assert len(far) == 1 and "10.255.255.1" in far[0] and "htons(53)" in far[0]
