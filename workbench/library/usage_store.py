"""The database side of API usage: write rows in batches, and sum them by key, model or day.

The sums are one GROUP BY in SQL (portable: the `day` column is text written with the row, so
no dialect date functions are needed). Requests made with the admin key, or without a key on
loopback while the library holds none, have no key row and are reported as "admin".
Does not know what a request is (workbench/api/usage_log.py builds the rows) or prices.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from workbench.library.db import WRITE_OPTION, create_db_engine, migrate, prepare
from workbench.library.keys_models import ClientKey, UsageRecord

GROUPS = ("key", "model", "day")
ADMIN = "admin"


@dataclass(frozen=True)
class UsageEntry:
    """One answered (or refused) API request."""

    created_at: datetime
    key_id: int | None
    model: str
    endpoint: str
    status: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    ttft_ms: float | None = None
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    prompt: str | None = None


class UsageStore:
    def __init__(self, engine: Engine, owns_engine: bool = False):
        self.engine = engine
        self._write = engine.execution_options(**{WRITE_OPTION: True})
        self._owns_engine = owns_engine

    @classmethod
    def open(cls, db_path) -> "UsageStore":
        """Migrate the database (a file path or a URL) to head and connect (benches, tools);
        the product uses the Library's shared store (library/stores.py)."""
        target = prepare(db_path)
        migrate(target)
        return cls(create_db_engine(target), owns_engine=True)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def add_many(self, entries: list[UsageEntry]) -> None:
        """One transaction for the batch."""
        if not entries:
            return
        with Session(self._write) as s, s.begin():
            s.add_all(UsageRecord(day=e.created_at.strftime("%Y-%m-%d"), **asdict(e))
                      for e in entries)

    def spent(self, key_id: int) -> float:
        with Session(self.engine) as s:
            total = s.scalar(select(func.sum(UsageRecord.cost_usd))
                             .where(UsageRecord.key_id == key_id))
            return float(total or 0.0)

    def count(self, key_id: int | None = None) -> int:
        q = select(func.count(UsageRecord.id))
        if key_id is not None:
            q = q.where(UsageRecord.key_id == key_id)
        with Session(self.engine) as s:
            return int(s.scalar(q) or 0)

    def summary(self, by: str = "key", since: str | None = None,
                also: str | None = None) -> list[dict]:
        """Sums per `by` (and per `also`, e.g. per day and key for a plot), `since` a date
        YYYY-MM-DD (inclusive); ordered by the group values."""
        groups = [by] + ([also] if also else [])
        assert all(g in GROUPS for g in groups), groups
        # Plain columns, not coalesce(name, 'admin'): PostgreSQL does not match a bound
        # parameter in GROUP BY to the same expression in SELECT.
        columns = {"key": ClientKey.name, "model": UsageRecord.model, "day": UsageRecord.day}
        keyed = [columns[g].label(g) for g in groups]
        q = (select(*keyed,
                    func.count(UsageRecord.id).label("requests"),
                    func.sum(case((UsageRecord.status >= 400, 1), else_=0)).label("errors"),
                    func.sum(UsageRecord.prompt_tokens).label("prompt_tokens"),
                    func.sum(UsageRecord.completion_tokens).label("completion_tokens"),
                    func.sum(UsageRecord.cached_tokens).label("cached_tokens"),
                    func.sum(UsageRecord.cost_usd).label("cost"),
                    func.avg(UsageRecord.latency_ms).label("avg_latency_ms"),
                    func.avg(UsageRecord.ttft_ms).label("avg_ttft_ms"))
             .select_from(UsageRecord)
             .outerjoin(ClientKey, ClientKey.id == UsageRecord.key_id))
        if since:
            q = q.where(UsageRecord.day >= since)
        q = q.group_by(*(columns[g] for g in groups))
        with Session(self.engine) as s:
            rows = [_row(r._mapping) for r in s.execute(q)]
        return sorted(rows, key=lambda r: tuple(r[g] for g in groups))  # same on both dialects


def _row(m) -> dict:
    out = dict(m)
    if "key" in out and out["key"] is None:
        out["key"] = ADMIN
    for name in ("requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens"):
        out[name] = int(out[name] or 0)
    out["cost"] = round(float(out["cost"] or 0.0), 8)
    for name in ("avg_latency_ms", "avg_ttft_ms"):
        out[name] = None if out[name] is None else round(float(out[name]), 2)
    return out
