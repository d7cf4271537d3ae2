"""The table of trust check results: one row per finished check, per project, backend, model.

Why a row per run and not per cell: a check is judged as a whole (its heat map, overall score,
what it cost) and compared with earlier checks of the same model; the cells are kept as JSON
with the run, including each answer, so a writer can see what the model said.
Does not know how checks run (workbench/trust) or how rows are read (trust_store.py).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workbench.library.models import Base, UTCDateTime, utcnow


class TrustRun(Base):
    __tablename__ = "trust_runs"
    __table_args__ = (Index("ix_trust_runs_lookup", "project_id", "backend", "model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True)
    backend: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(Text)
    window: Mapped[int] = mapped_column(Integer)
    request: Mapped[dict] = mapped_column(JSON)  # lengths, depths, seed, needles, trials
    score: Mapped[float] = mapped_column(Float)  # mean share of facts found
    cited_score: Mapped[float] = mapped_column(Float)  # mean share found and cited right
    cells: Mapped[list] = mapped_column(JSON)  # [{length, depth, accuracy, ..., answers}]
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    cost: Mapped[dict] = mapped_column(JSON)
    notes: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
