"""Load generator for test_api_queue_load.py, run as a separate process.

    python api_load_client.py URL MODEL N

Fires N requests at once (a mix of OpenAI/Anthropic, streaming and not), each with its own
deadline, and prints one JSON line per request: status, whether the answer was complete,
Retry-After, the error type, seconds taken. A request that hangs shows up as status "timeout".
"""
from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx

WORDS = "one two three four five"
DEADLINE_S = 60.0


def _sse_data(text: str) -> list[str]:
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


def _complete(kind: str, stream: bool, r: httpx.Response) -> bool:
    if not stream:
        body = r.json()
        text = (body["choices"][0]["message"]["content"] if kind == "openai"
                else body["content"][0]["text"])
        return text == WORDS
    data = _sse_data(r.text)
    if kind == "openai":
        chunks = [json.loads(d) for d in data[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks
                       if c["choices"])
        return data[-1] == "[DONE]" and text == WORDS
    events = [json.loads(d) for d in data]
    text = "".join(e["delta"].get("text", "") for e in events
                   if e["type"] == "content_block_delta")
    return events[-1]["type"] == "message_stop" and text == WORDS


async def one(client: httpx.AsyncClient, i: int, model: str) -> dict:
    kind = "openai" if i % 2 == 0 else "anthropic"
    stream = i % 4 >= 2
    messages = [{"role": "user", "content": WORDS}]
    if kind == "openai":
        path, body = "/v1/chat/completions", {"model": model, "messages": messages}
    else:
        path, body = "/v1/messages", {"model": model, "messages": messages, "max_tokens": 16}
    body["stream"] = stream
    started = time.monotonic()
    out = {"i": i, "kind": kind, "stream": stream}
    try:
        r = await asyncio.wait_for(client.post(path, json=body), DEADLINE_S)
    except (asyncio.TimeoutError, httpx.HTTPError) as exc:
        out.update(status="timeout", error=type(exc).__name__)
        return out
    out.update(status=r.status_code, seconds=round(time.monotonic() - started, 3))
    if r.status_code == 200:
        out["complete"] = _complete(kind, stream, r)
    else:
        body = r.json()
        out["retry_after"] = r.headers.get("retry-after")
        out["error"] = body["error"]["type"]
    return out


async def main(url: str, model: str, n: int) -> None:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=DEADLINE_S) as client:
        results = await asyncio.gather(*(one(client, i, model) for i in range(n)))
    for r in results:
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
