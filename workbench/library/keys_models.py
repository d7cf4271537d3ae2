"""The tables of client keys and of the API's usage: one row per key, one row per request.

Why a key row holds only a hash: the key (`lh_<key_id>_<secret>`) is shown once at creation;
the row keeps its public `key_id` (the unique, indexed lookup) and `sha256(secret)`, so a
stolen database opens nothing. Revoking or rotating keeps the row (usage history points at it);
limits are plain nullable columns, null meaning "no limit".
Why a usage row has a `day` column: grouping by day is then one portable GROUP BY on SQLite and
PostgreSQL alike (no dialect date functions). Prompt text is null unless --store-prompts.
Does not know how keys are minted or checked (workbench/client_keys.py) or how rows are read
(keys_store.py, usage_store.py).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workbench.library.models import Base, UTCDateTime, utcnow


class ClientKey(Base):
    __tablename__ = "client_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)  # the public part of the key
    secret_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the secret part
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_parallel: Mapped[int | None] = mapped_column(Integer, nullable=True)
    models: Mapped[list | None] = mapped_column(JSON, nullable=True)  # None: every model
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    budget_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class UsageRecord(Base):
    __tablename__ = "api_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    day: Mapped[str] = mapped_column(String(10), index=True)  # YYYY-MM-DD (UTC)
    key_id: Mapped[int | None] = mapped_column(
        ForeignKey("client_keys.id", ondelete="SET NULL"), nullable=True, index=True)
    model: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(100))
    status: Mapped[int] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
