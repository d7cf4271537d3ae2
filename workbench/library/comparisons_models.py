"""The tables of model comparisons and their blind votes.

Why a comparison row holds its rows as JSON: a comparison is read and exported as a whole (one
figure line per model, pointing at that model's artifact, which holds the text); `order` is the
blind order, drawn once when the comparison is saved, so every blind view shows the same A/B.
A vote is its own row (a comparison may be judged again later); `winner_model` is null for a
tie or both-bad.
Does not know how a comparison runs (workbench/compare) or how rows are read
(comparisons_store.py).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workbench.library.models import Base, UTCDateTime, utcnow


class Comparison(Base):
    __tablename__ = "comparisons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    request: Mapped[dict] = mapped_column(JSON)  # task, prompt, documents, max_new_tokens
    rows: Mapped[list] = mapped_column(JSON)  # one figure line per model, in run order
    order: Mapped[list] = mapped_column(JSON)  # models in blind order: A, B, ...
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ComparisonVote(Base):
    __tablename__ = "comparison_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comparison_id: Mapped[int] = mapped_column(
        ForeignKey("comparisons.id", ondelete="CASCADE"), index=True)
    winner: Mapped[str] = mapped_column(String(20))  # "A", "B", ..., "tie", "both-bad"
    winner_model: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
