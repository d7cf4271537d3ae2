"""Reliability probe for test_api_probe_server.py, run as a separate process.

    python api_probe_client.py URL MODEL KEY N

Fires one burst at once: N well-formed requests (OpenAI and Anthropic, streaming and not, as
api_load_client.py) mixed with hostile ones in both protocols -- malformed JSON, invalid UTF-8,
100,000-deep nesting, a lone surrogate escape, max_tokens of 10^9, a negative temperature -- and
two 50 MB bodies over raw sockets: one declared by Content-Length of which nothing is ever sent
(so an answer proves the server did not wait to read it), one chunked, sent until the server
answers. Prints one JSON line per request: case, status, error type, Retry-After,
when it ended (seconds since the burst began); a request that hangs shows status "timeout".
"""
from __future__ import annotations

import asyncio
import json
import select
import socket
import sys
import time

import httpx

from api_load_client import WORDS, _complete

DEADLINE_S = 60.0
FIFTY_MB = 50 * 1024 * 1024
MIB = 1024 * 1024
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


def hostile_cases(model: str) -> list[tuple[str, str, bytes]]:
    """(case, protocol, body) for every malformed or out-of-range request."""
    msgs = '[{"role": "user", "content": "hi"}]'
    cases = []
    for kind in PATHS:
        extra = ', "max_tokens": 8' if kind == "anthropic" else ""
        cases += [
            ("malformed", kind, b'{"model": "' + model.encode() + b'", "messages": ['),
            ("bad_utf8", kind, f'{{"model": "{model}"{extra}, "messages": [{{"role": "user", '
                               f'"content": "'.encode() + b'\xff\xfe\xc3' + b'"}]}'),
            ("deep_json", kind, b"[" * 100_000 + b"]" * 100_000),
            ("deep_in_field", kind, f'{{"model": "{model}"{extra}, "messages": '.encode()
             + b"[" * 100_000 + b"]" * 100_000 + b"}"),
            ("lone_surrogate", kind, f'{{"model": "{model}"{extra}, "messages": [{{"role": '
                                     f'"user", "content": "a \\ud800 b"}}]}}'.encode()),
            ("max_tokens_1e9", kind, f'{{"model": "{model}", "max_tokens": 1000000000, '
                                     f'"messages": {msgs}}}'.encode()),
            ("negative_temperature", kind, f'{{"model": "{model}"{extra}, "temperature": -0.5, '
                                           f'"messages": {msgs}}}'.encode()),
        ]
    return cases


async def well_formed(client: httpx.AsyncClient, i: int, model: str, t0: float) -> dict:
    kind = "openai" if i % 2 == 0 else "anthropic"
    stream = i % 4 >= 2
    body = {"model": model, "messages": [{"role": "user", "content": WORDS}], "stream": stream}
    if kind == "anthropic":
        body["max_tokens"] = 16
    out = {"case": "well_formed", "kind": kind, "stream": stream}
    r = await _send(client, out, PATHS[kind], json.dumps(body).encode(), t0)
    if r is not None and r.status_code == 200:
        out["complete"] = _complete(kind, stream, r)
    return out


async def hostile(client: httpx.AsyncClient, case: str, kind: str, body: bytes,
                  t0: float) -> dict:
    out = {"case": case, "kind": kind}
    await _send(client, out, PATHS[kind], body, t0)
    return out


async def _send(client, out: dict, path: str, body: bytes, t0: float):
    headers = {"content-type": "application/json"}
    try:
        r = await asyncio.wait_for(client.post(path, content=body, headers=headers), DEADLINE_S)
    except (asyncio.TimeoutError, httpx.HTTPError) as exc:
        out.update(status="timeout", error=type(exc).__name__)
        return None
    out.update(status=r.status_code, ended_s=round(time.monotonic() - t0, 3))
    if r.status_code != 200:
        out["retry_after"] = r.headers.get("retry-after")
        try:
            out["body"] = r.json()
        except ValueError:
            out["body"] = r.text[:200]
    return r


def fifty_mb_declared(host: str, port: int, key: str) -> dict:
    """Declare 50 MB and send none of it: only a server that refuses on the header answers."""
    out = {"case": "body_50mb_declared", "kind": "openai", "sent_bytes": 0}
    with socket.create_connection((host, port), timeout=DEADLINE_S) as s:
        s.sendall(_head(host, key, f"Content-Length: {FIFTY_MB}"))
        out.update(_read_response(s))
    return out


def fifty_mb_chunked(host: str, port: int, key: str) -> dict:
    """Send 50 MB chunked, one MiB a chunk, until the server answers or the body ends."""
    out = {"case": "body_50mb_chunked", "kind": "openai"}
    chunk = memoryview(b"%x\r\n" % MIB + b"a" * MIB + b"\r\n")
    sent, offset = 0, 0
    with socket.create_connection((host, port), timeout=DEADLINE_S) as s:
        s.sendall(_head(host, key, "Transfer-Encoding: chunked"))
        try:
            while sent < FIFTY_MB:
                readable, writable, _ = select.select([s], [s], [], DEADLINE_S)
                if readable or not writable:
                    break  # the server answered (or went quiet): stop sending, read
                offset += s.send(chunk[offset:])
                if offset == len(chunk):
                    sent, offset = sent + MIB, 0
            else:
                s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed while we were sending
        out["sent_bytes"] = sent
        out.update(_read_response(s))
    return out


def _head(host: str, key: str, length_header: str) -> bytes:
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"{length_header}\r\nConnection: close\r\n\r\n").encode()


def _read_response(s: socket.socket) -> dict:
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            piece = s.recv(65536)
            if not piece:
                break
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)
        while length is not None and len(rest) < length:
            piece = s.recv(65536)
            if not piece:
                break
            rest += piece
    except socket.timeout:
        return {"status": "timeout"}
    except OSError as exc:  # reset: the server closed on a body it had refused
        return {"status": "reset", "error": repr(exc)}
    if not head.startswith(b"HTTP/1.1 "):
        return {"status": "no answer", "error": head[:80].decode("latin-1")}
    out: dict = {"status": int(head.split()[1])}
    try:
        out["body"] = json.loads(rest)
    except ValueError:
        out["body"] = rest[:200].decode("latin-1")
    return out


async def main(url: str, model: str, key: str, n: int) -> None:
    host, port = url.split("//", 1)[1].split(":")
    cases = hostile_cases(model)
    limits = httpx.Limits(max_connections=n + len(cases), max_keepalive_connections=0)
    t0 = time.monotonic()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=DEADLINE_S,
                                 headers={"authorization": f"Bearer {key}"}) as client:
        results = await asyncio.gather(
            *(well_formed(client, i, model, t0) for i in range(n)),
            *(hostile(client, case, kind, body, t0) for case, kind, body in cases),
            asyncio.to_thread(fifty_mb_declared, host, int(port), key),
            asyncio.to_thread(fifty_mb_chunked, host, int(port), key))
    for r in results:
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
