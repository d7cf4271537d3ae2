"""One usage row per API generation request: what it cost, how long it took, who asked.

Owns `Meter` (filled while a request runs: the model, the engine's Usage, the time of the first
token; service.py writes into it, routing.py starts and ends it), the price of a request, and
`UsageLog`, which writes rows from a background thread in batches, so a request never waits for
the database and 40 concurrent clients make a few transactions, not 40. `flush()` waits for the
rows queued so far (tests, benchmarks, shutdown). A crash can lose the rows of the last few
milliseconds; the answers themselves are unaffected.
Cost is at the price table's API price (workbench/synthesis/pricing.py) of the model named,
when it is listed there, else of the table's first line (DeepSeek V4-Flash): what the same
tokens would cost on that API. Cached tokens are charged as input (the table has no cache
price), so the figure is an upper bound. Prompt text is kept only with --store-prompts.
Does not know keys or HTTP framing.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from engine.events import Message, Usage
from workbench.library.usage_store import UsageEntry, UsageStore
from workbench.synthesis.pricing import PRICES, Price

log = logging.getLogger(__name__)
BATCH = 200


def _slug(name: str) -> str:
    return "".join(c for c in name.lower().replace(" ", "-") if c.isalnum() or c in "-.")


_BY_SLUG = {_slug(p.model): p for p in PRICES}


def price_for(model: str) -> Price:
    return _BY_SLUG.get(_slug(model), PRICES[0])


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    price = price_for(model)
    return (prompt_tokens * price.input_per_m + completion_tokens * price.output_per_m) / 1e6


@dataclass
class Meter:
    """One request being served; times from time.perf_counter()."""

    endpoint: str
    key_id: int | None
    started: float = field(default_factory=time.perf_counter)
    model: str = ""
    usage: Usage | None = None
    first_token: float | None = None
    prompt: str | None = None

    def saw_token(self) -> None:
        if self.first_token is None:
            self.first_token = time.perf_counter()

    def set_prompt(self, messages: list[Message]) -> None:
        self.prompt = "\n\n".join(f"{m.role}: {m.content}" for m in messages)

    @property
    def tokens(self) -> int:
        return 0 if self.usage is None else self.usage.prompt_tokens + \
            self.usage.completion_tokens

    def entry(self, status: int) -> UsageEntry:
        u = self.usage or Usage(0, 0)
        ttft = None if self.first_token is None else (self.first_token - self.started) * 1e3
        return UsageEntry(
            created_at=datetime.now(timezone.utc), key_id=self.key_id, model=self.model,
            endpoint=self.endpoint, status=status, prompt_tokens=u.prompt_tokens,
            completion_tokens=u.completion_tokens, cached_tokens=u.cached_tokens,
            ttft_ms=ttft, latency_ms=(time.perf_counter() - self.started) * 1e3,
            cost_usd=cost_usd(self.model, u.prompt_tokens, u.completion_tokens)
            if status < 400 else 0.0, prompt=self.prompt)


class UsageLog:
    """Queue rows; a daemon thread writes them in batches (one transaction each)."""

    def __init__(self, store: UsageStore):
        self.store = store
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="longhand-usage", daemon=True)
        self._thread.start()

    def record(self, entry: UsageEntry) -> None:
        self._queue.put(entry)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row queued so far is written; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.store.add_many(batch)
            except Exception:  # keep serving; the log says which rows were lost
                log.exception("could not write %d usage rows", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()
