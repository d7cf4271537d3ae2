"""Tables for background jobs: the job row, finished map/reduce steps, and saved artifacts.

Why rows and not memory: a job outlives the browser tab and the process. The job row holds the
request, progress and the text streamed so far; each finished step of a map-reduce plan is its
own row, so a restart redoes only what was not finished; an artifact is the finished answer
with everything needed to judge it (model, parameters, tokens, time, cost, citations).
Does not know: how jobs run (workbench/jobs) or what the steps mean (workbench/synthesis).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workbench.library.models import Base, UTCDateTime, utcnow

JOB_STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="synthesis")
    request: Mapped[dict] = mapped_column(JSON)  # everything needed to run it again
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    phase: Mapped[str] = mapped_column(String(20), default="queued")
    step: Mapped[int] = mapped_column(Integer, default=0)
    steps_total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    partial_text: Mapped[str] = mapped_column(Text, default="")
    plan: Mapped[dict] = mapped_column(JSON, default=dict)  # budget + strategy, once known
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[int] = mapped_column(Integer, default=0)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner_started: Mapped[float | None] = mapped_column(Float, nullable=True)  # see owner.py
    owner_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    artifact_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # for `worker` processes (jobs/worker.py): queued for them, who claimed it, until when
    detached: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # besides an artifact
    figures: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # the progress bar's


class JobStep(Base):
    """One finished step of a job (a map step over a chunk, or a reduce step)."""

    __tablename__ = "job_steps"
    __table_args__ = (UniqueConstraint("job_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))  # "map:3", "reduce:1:0"
    label: Mapped[str] = mapped_column(Text, default="")  # what it covered, e.g. anchors
    text: Mapped[str] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Artifact(Base):
    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True, index=True)
    task: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(Text)
    params: Mapped[dict] = mapped_column(JSON)
    document_ids: Mapped[list] = mapped_column(JSON)
    strategy: Mapped[str] = mapped_column(String(20))
    budget: Mapped[dict] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)
    thinking: Mapped[str] = mapped_column(Text, default="")
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    cost: Mapped[dict] = mapped_column(JSON)
    citations: Mapped[list] = mapped_column(JSON)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)  # e.g. pacing metrics, map plan
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
