"""The `adapters` table: one row per LoRA adapter trained in a project.

Why a row and not only a folder: the registry must list adapters per project with what they
were trained from (base model and its hash, dataset snapshot hash, hyperparameters), how they
scored, and whether a run is still going or was interrupted, so a crash can be resumed.
`run_key` hashes base + dataset + hyperparameters: the same request finds its unfinished run.
Does not know: the files in the adapter folder (workbench/adapters/registry.py) or training.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workbench.library.models import Base, UTCDateTime, utcnow

ADAPTER_STATES = ("training", "ready", "failed", "cancelled", "interrupted")
ADAPTER_NAME_MAX = 64


class Adapter(Base):
    __tablename__ = "adapters"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(ADAPTER_NAME_MAX))
    status: Mapped[str] = mapped_column(String(20), default="training", index=True)
    path: Mapped[str] = mapped_column(Text)
    base_model: Mapped[str] = mapped_column(Text)
    base_hash: Mapped[str] = mapped_column(String(64))
    dataset_hash: Mapped[str] = mapped_column(String(64))
    run_key: Mapped[str] = mapped_column(String(64), index=True)
    hyperparameters: Mapped[dict] = mapped_column(JSON)
    dataset: Mapped[dict] = mapped_column(JSON)  # documents, example counts, issues
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    step: Mapped[int] = mapped_column(Integer, default=0)
    steps_total: Mapped[int] = mapped_column(Integer, default=0)
    checkpoint: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the one in use
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner_started: Mapped[float | None] = mapped_column(Float, nullable=True)  # see owner.py
    owner_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
