"""What client keys and usage rows cost the HTTP API: `python bench/api_keys.py`.

Part 1, overhead: two servers on loopback over the same instant backend (the API tests' paced
echo backend with no delay, so the time measured is the API's, not a model's): one with no
auth and no usage log (the API's routes over a library, as `mount` built them before client
keys: the same model catalog reads), one as `app.py --api-only` serves a library that holds
client keys (a key looked up per request, limits checked, one usage row per request).
Requests go in blocks of 25 to one, then the other, on keep-alive connections; p50/p95 of
each and the difference ("added") are printed, and the process CPU time per request (client
and server together, so the difference is the server's own work: robust where a busy machine
makes every thread hand-off wait for a time slice and wall times vary by tens of ms). With
LONGHAND_DATABASE_URL set, Settings picks it up and the keyed server's library is that
database (PostgreSQL).
Part 2, 40 concurrent clients, each with its own key (rpm 5) sending 8 requests at once: every
request must be answered (200) or refused with 429 (a key's rpm, or the queue when full), and
the usage rows must equal the requests: one per request, as many 200 rows as answers.
Part 3, the stores alone (`store` case): the per-request key lookup and "any active key" query,
and a batch of 40 usage rows, on the SQLite library and -- with `--store-url URL`, a scratch
PostgreSQL database whose two tables this creates if missing -- on PostgreSQL.
Prints one JSON line per case (DESIGN.md section 4 fields; unmeasured ones null).
Does not know how the API works inside; it drives it over HTTP and reads the usage rows.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "workbench" / "api")]

import httpx  # noqa: E402
from api_harness import LiveServer, PacedEchoBackend  # noqa: E402

import app as entry  # noqa: E402
from workbench.api import build_router  # noqa: E402
from workbench.config import Settings  # noqa: E402

MODEL = "paced-echo"
ASK = {"model": MODEL, "messages": [{"role": "user", "content": "alpha beta"}],
       "max_tokens": 2}
FIELDS = ("bench", "case", "ours_s", "reference_s", "speedup", "max_abs_diff",
          "ours_peak_gb", "reference_peak_gb")


BLOCK = 25  # requests to one server before switching to the other
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]  # else Nagle + delayed ACK add ~40 ms


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, transport=httpx.HTTPTransport(socket_options=NODELAY))


def line(case: str, **figures) -> None:
    print(json.dumps({**{f: None for f in FIELDS}, "bench": "api_keys", "case": case,
                      **figures}), flush=True)


def keyed_app(data: Path, **settings):
    app = entry.build_app(Settings.from_sources(
        {"data_dir": data, "model": MODEL, "api_only": True, **settings}))
    app.state.ctx.set_backend(PacedEchoBackend(context_window=256))
    return app


def _database(app) -> str:
    url = getattr(app.state.api.settings, "database_url", None)  # LONGHAND_DATABASE_URL
    return url.split(":", 1)[0] if url else "sqlite"


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def plain_app(data: Path):
    """The API over a library without client keys or usage rows (no `client_keys` given)."""
    from fastapi import FastAPI

    from workbench.adapters.service import open_store
    from workbench.workbench import Workbench

    wb = Workbench(Settings(data_dir=data, model=MODEL))
    backend = PacedEchoBackend(context_window=256)
    router, _ = build_router(wb.settings, lambda: backend, adapter_store=open_store(wb.library),
                             remotes=wb.remotes)
    app = FastAPI()
    app.include_router(router)
    return app


def overhead(data: Path, requests: int) -> None:
    plain = plain_app(data.with_name("plain"))
    keyed = keyed_app(data)
    _, key = keyed.state.ctx.workbench.client_keys.create("bench", rpm=1_000_000)
    times: dict[str, list[float]] = {"none": [], "keys": []}
    cpu = {"none": 0.0, "keys": 0.0}  # process CPU seconds (client + server) per server
    with LiveServer(plain) as a, LiveServer(keyed) as b, \
            client(a.url) as ca, client(b.url) as cb:
        auth = {"authorization": f"Bearer {key}"}
        for block in range(-1, requests // BLOCK):  # block -1 warms both up
            for name, http, headers in (("none", ca, {}), ("keys", cb, auth)):
                cpu_start = time.process_time()
                for _ in range(BLOCK):
                    start = time.perf_counter()
                    r = http.post("/v1/chat/completions", json=ASK, headers=headers)
                    took = time.perf_counter() - start
                    assert r.status_code == 200, r.text
                    if block >= 0:
                        times[name].append(took)
                if block >= 0:
                    cpu[name] += time.process_time() - cpu_start
        assert keyed.state.api.usage.flush()
        rows = keyed.state.ctx.workbench.usage.count()
    p50 = {k: pct(v, 50) * 1e3 for k, v in times.items()}
    p95 = {k: pct(v, 95) * 1e3 for k, v in times.items()}
    line("overhead", database=_database(keyed), requests=requests,
         ours_s=round(statistics.median(times["keys"]), 6),
         reference_s=round(statistics.median(times["none"]), 6),
         p50_none_ms=round(p50["none"], 3), p50_keys_ms=round(p50["keys"], 3),
         p95_none_ms=round(p95["none"], 3), p95_keys_ms=round(p95["keys"], 3),
         added_p50_ms=round(p50["keys"] - p50["none"], 3),
         added_p95_ms=round(p95["keys"] - p95["none"], 3),
         cpu_none_ms=round(cpu["none"] / requests * 1e3, 3),
         cpu_keys_ms=round(cpu["keys"] / requests * 1e3, 3),
         added_cpu_ms=round((cpu["keys"] - cpu["none"]) / requests * 1e3, 3),
         usage_rows=rows, load_average=round(os.getloadavg()[0], 1), cpus=os.cpu_count())


async def _client(url: str, key: str, n: int) -> list[int]:
    transport = httpx.AsyncHTTPTransport(socket_options=NODELAY)
    async with httpx.AsyncClient(base_url=url, timeout=60, transport=transport,
                                 headers={"authorization": f"Bearer {key}"}) as http:
        replies = await asyncio.gather(*(http.post("/v1/chat/completions", json=ASK)
                                         for _ in range(n)))
    out = []
    for r in replies:
        if r.status_code == 429:
            assert r.headers.get("retry-after", "").isdigit(), r.headers
            assert r.json()["error"]["type"] == "rate_limit_error", r.text
            out.append("rpm" if "rate limit for API key" in r.text else "queue")
        else:
            out.append(r.status_code)
    return out


def concurrent(data: Path, clients: int, per_client: int, rpm: int) -> None:
    app = keyed_app(data, api_queue_size=64)
    backend = PacedEchoBackend(context_window=256, delay_s=0.002)
    app.state.ctx.set_backend(backend)
    keys = [app.state.ctx.workbench.client_keys.create(f"client-{i:02d}", rpm=rpm)[1]
            for i in range(clients)]
    with LiveServer(app) as live:
        async def run_all():
            return await asyncio.gather(*(_client(live.url, k, per_client) for k in keys))
        start = time.perf_counter()
        statuses = [s for per in asyncio.run(run_all()) for s in per]
        took = time.perf_counter() - start
        assert app.state.api.usage.flush()
    usage = app.state.ctx.workbench.usage
    names = {f"client-{i:02d}" for i in range(clients)}  # the database may hold earlier rows
    by_key = [r for r in usage.summary("key") if r["key"] in names]
    answered = statuses.count(200)
    refused = statuses.count("rpm") + statuses.count("queue")
    rows = sum(r["requests"] for r in by_key)
    answered_rows = rows - sum(r["errors"] for r in by_key)
    assert answered + refused == len(statuses), sorted(set(map(str, statuses)))
    assert rows == len(statuses) and answered_rows == answered, (rows, answered_rows)
    line("concurrent", database=_database(app), clients=clients, requests=len(statuses),
         answered=answered, refused_429=refused, refused_rpm=statuses.count("rpm"),
         refused_queue_full=statuses.count("queue"), usage_rows=rows,
         usage_rows_answered=answered_rows,
         keys_in_usage=len(by_key), ours_s=round(took, 3),
         other_status=len(statuses) - answered - refused)


def store_case(label: str, engine) -> None:
    from datetime import datetime, timezone

    from workbench.client_keys import ClientKeys
    from workbench.library.keys_store import KeyStore
    from workbench.library.usage_store import UsageEntry, UsageStore

    keys, usage = ClientKeys(KeyStore(engine)), UsageStore(engine)  # over the given engine
    _, key = keys.create(f"bench-{time.time_ns()}")
    timed = {"lookup": [], "any_active": [], "batch40": []}
    for i in range(520):
        for name, call in (("lookup", lambda: keys.lookup(key)),
                           ("any_active", keys.any_active)):
            start = time.perf_counter()
            call()
            if i >= 20:
                timed[name].append(time.perf_counter() - start)
    rows = [UsageEntry(datetime.now(timezone.utc), None, MODEL, "/v1/chat/completions", 200,
                       5, 2) for _ in range(40)]
    for _ in range(20):
        start = time.perf_counter()
        usage.add_many(rows)
        timed["batch40"].append(time.perf_counter() - start)
    line("store", database=label,
         lookup_p50_ms=round(pct(timed["lookup"], 50) * 1e3, 3),
         lookup_p95_ms=round(pct(timed["lookup"], 95) * 1e3, 3),
         any_active_p50_ms=round(pct(timed["any_active"], 50) * 1e3, 3),
         usage_batch_40_ms=round(statistics.median(timed["batch40"]) * 1e3, 2),
         load_average=round(os.getloadavg()[0], 1))


def stores(data: Path, url: str | None) -> None:
    from sqlalchemy import create_engine

    from workbench.library.db import create_db_engine, migrate
    from workbench.library.keys_models import ClientKey, UsageRecord
    from workbench.library.models import Base

    data.mkdir(parents=True)
    migrate(data / "workbench.db")
    store_case("sqlite", create_db_engine(data / "workbench.db"))
    if url:
        engine = create_engine(url)
        Base.metadata.create_all(engine, tables=[ClientKey.__table__, UsageRecord.__table__])
        store_case(url.split(":", 1)[0], engine)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=300, help="per server, part 1")
    p.add_argument("--clients", type=int, default=40)
    p.add_argument("--per-client", type=int, default=8)
    p.add_argument("--rpm", type=int, default=5)
    p.add_argument("--store-url", default=None,
                   help="a scratch PostgreSQL database for the store case, e.g. "
                        "postgresql+psycopg://user@/db?host=/tmp")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        overhead(Path(tmp) / "overhead", args.requests)
        concurrent(Path(tmp) / "concurrent", args.clients, args.per_client, args.rpm)
        stores(Path(tmp) / "stores", args.store_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
