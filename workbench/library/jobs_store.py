"""The database side of background jobs: job rows, finished steps, artifacts.

Every call is one short transaction, so a job thread, the UI and a CLI in another process can
all read and write the same SQLite file (WAL) at once. Returns plain dataclasses.
A queued or running row whose owning process is gone (owner.py: pid, start time, host) is
read as "interrupted", with a message saying how to resume it, whoever reads it (job-status,
the UI's job list, a worker); so is a row whose worker lease ran out (job_queue.py: a worker on
another host that vanished). Starting a job claims it under the write lock (and a row lock on
PostgreSQL), so two processes never run one job.
Does not know what a job does (workbench/jobs, workbench/synthesis).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workbench.errors import JobNotFound, WorkbenchError
from workbench.library import owner
from workbench.library.db import WRITE_OPTION, create_db_engine, migrate, prepare
from workbench.library.jobs_models import Artifact, Job, JobStep
from workbench.library.models import utcnow

ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class JobInfo:
    id: int
    project_id: int
    kind: str
    request: dict
    status: str
    phase: str
    step: int
    steps_total: int
    message: str
    partial_text: str
    plan: dict
    error: str | None
    cancel_requested: bool
    pid: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    artifact_id: int | None
    detached: bool = False
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    result: dict | None = None
    owner_host: str | None = None
    figures: dict | None = None  # progress_figures.Figures.as_dict() while it runs

    @property
    def finished(self) -> bool:
        return self.status not in ACTIVE and self.status != "interrupted"


@dataclass(frozen=True)
class StepInfo:
    key: str
    label: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    pid: int | None
    finished_at: datetime


@dataclass(frozen=True)
class ArtifactInfo:
    id: int
    project_id: int
    job_id: int | None
    task: str
    title: str
    backend: str
    model: str
    params: dict
    document_ids: list
    strategy: str
    budget: dict
    text: str
    thinking: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cost: dict
    citations: list
    extra: dict = field(default_factory=dict)
    created_at: datetime | None = None


def lease_lapsed(row: Job, now: datetime | None = None) -> bool:
    """A worker's lease that its heartbeat stopped renewing (the worker died or hangs)."""
    return row.lease_expires_at is not None and row.lease_expires_at < (now or utcnow())


def owner_gone(row: Job) -> bool:
    """Whether a queued or running row's owner has certainly stopped (owner.py) or let its
    worker lease lapse."""
    return row.status in ACTIVE and (
        lease_lapsed(row) or owner.gone(row.pid, row.owner_started, row.owner_host))


def _claim(row: Job, pid: int) -> None:
    me = owner.current()
    if pid != me.pid:  # started on behalf of another process of this host
        me = owner.Owner(pid, None, me.host)
    row.pid, row.owner_started, row.owner_host = me.pid, me.started, me.host
    row.worker_id, row.lease_expires_at = None, None  # a process runs it now, not a worker


def _interrupted_message(row: Job) -> str:
    if row.detached:
        return (f"its worker (process {row.pid} on {row.owner_host}) is gone; a running "
                f"`worker` takes it up again, or resume it with `resume-job {row.id}`")
    return f"the process that ran it ({row.pid}) is gone; resume it with `resume-job {row.id}`"


def job_info(row: Job) -> JobInfo:
    status, message = row.status, row.message
    if owner_gone(row):
        status = "interrupted"
    if status == "interrupted":
        message = _interrupted_message(row)
    return JobInfo(
        id=row.id, project_id=row.project_id, kind=row.kind, request=dict(row.request),
        status=status, phase=row.phase, step=row.step, steps_total=row.steps_total,
        message=message, partial_text=row.partial_text, plan=dict(row.plan or {}),
        error=row.error, cancel_requested=bool(row.cancel_requested), pid=row.pid,
        created_at=row.created_at, started_at=row.started_at, finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at, artifact_id=row.artifact_id,
        detached=bool(row.detached), worker_id=row.worker_id,
        lease_expires_at=row.lease_expires_at,
        result=dict(row.result) if row.result is not None else None, owner_host=row.owner_host,
        figures=dict(row.figures) if row.figures else None,
    )


def _step(row: JobStep) -> StepInfo:
    return StepInfo(row.key, row.label, row.text, row.prompt_tokens, row.completion_tokens,
                    row.seconds, row.pid, row.finished_at)


def _artifact(row: Artifact) -> ArtifactInfo:
    return ArtifactInfo(
        id=row.id, project_id=row.project_id, job_id=row.job_id, task=row.task,
        title=row.title, backend=row.backend, model=row.model, params=dict(row.params),
        document_ids=list(row.document_ids), strategy=row.strategy, budget=dict(row.budget),
        text=row.text, thinking=row.thinking, prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens, seconds=row.seconds, cost=dict(row.cost),
        citations=list(row.citations), extra=dict(row.extra or {}), created_at=row.created_at,
    )


class JobStore:
    """Job, step and artifact rows in the library's database file."""

    def __init__(self, engine: Engine, owns_engine: bool = False):
        """`engine` is normally the Library's (`library.jobs`); only an engine this store
        made itself (`open`/`connect`) is disposed by `close`."""
        self.engine = engine
        self._owns_engine = owns_engine
        self._write = engine.execution_options(**{WRITE_OPTION: True})

    @classmethod
    def open(cls, db_path: Path) -> "JobStore":
        """Migrate the file to head (creating it if needed) and connect."""
        target = prepare(db_path)
        migrate(target)
        return cls(create_db_engine(target), owns_engine=True)

    def _get(self, session: Session, job_id: int, lock: bool = False) -> Job:
        row = session.get(Job, job_id, with_for_update=lock or None)
        if row is None:
            raise JobNotFound(f"no job with id {job_id}")
        return row

    # jobs -------------------------------------------------------------------------------
    def create_job(self, project_id: int, request: dict, kind: str = "synthesis", *,
                   detached: bool = False, plan: dict | None = None) -> JobInfo:
        """A queued job: run by its creator, or (`detached`) left for a `worker` to claim."""
        with Session(self._write) as s, s.begin():
            row = Job(project_id=project_id, kind=kind, request=request, status="queued",
                      phase="queued", step=0, steps_total=0, message="", partial_text="",
                      plan=plan or {}, cancel_requested=0, detached=int(detached))
            if not detached:
                _claim(row, os.getpid())  # the creator starts it; if it dies first, it shows
            s.add(row)
            s.flush()
            return job_info(row)

    def job(self, job_id: int) -> JobInfo:
        with Session(self.engine) as s:
            return job_info(self._get(s, job_id))

    def jobs(self, project_id: int | None = None, statuses: tuple[str, ...] = ()) -> list[JobInfo]:
        q = select(Job).order_by(Job.id)
        if project_id is not None:
            q = q.where(Job.project_id == project_id)
        if statuses:  # a dead owner's row is stored as running but read as interrupted
            wanted = set(statuses) | (set(ACTIVE) if "interrupted" in statuses else set())
            q = q.where(Job.status.in_(wanted))
        with Session(self.engine) as s:
            jobs = [job_info(r) for r in s.scalars(q)]
        return [j for j in jobs if not statuses or j.status in statuses]

    def start(self, job_id: int, pid: int) -> JobInfo:
        """Claim the job for process `pid` (this one, normally) and mark it running; refused
        while another live process is running it."""
        with Session(self._write) as s, s.begin():
            row = self._get(s, job_id, lock=True)
            if row.status == "running" and row.pid != pid and not owner_gone(row):
                raise WorkbenchError(f"job {job_id} is still running (process {row.pid})")
            now = utcnow()
            _claim(row, pid)
            row.status, row.heartbeat_at, row.error = "running", now, None
            row.started_at = row.started_at or now
            return job_info(row)

    def progress(self, job_id: int, phase: str, step: int, steps_total: int, message: str = "",
                 partial_text: str | None = None, figures: dict | None = None) -> None:
        values = dict(phase=phase, step=step, steps_total=steps_total, message=message,
                      heartbeat_at=utcnow())
        if partial_text is not None:
            values["partial_text"] = partial_text
        if figures is not None:
            values["figures"] = figures
        with Session(self._write) as s, s.begin():
            s.execute(update(Job).where(Job.id == job_id).values(**values))

    def set_plan(self, job_id: int, plan: dict) -> None:
        with Session(self._write) as s, s.begin():
            self._get(s, job_id).plan = plan

    def request_cancel(self, job_id: int) -> JobInfo:
        with Session(self._write) as s, s.begin():
            row = self._get(s, job_id, lock=True)
            row.cancel_requested = 1
            if row.status in ("queued", "interrupted") or owner_gone(row):
                row.status, row.phase, row.finished_at = "cancelled", "cancelled", utcnow()
            return job_info(row)

    def cancel_requested(self, job_id: int) -> bool:
        with Session(self.engine) as s:
            return bool(self._get(s, job_id).cancel_requested)

    def finish(self, job_id: int, status: str, error: str | None = None,
               artifact_id: int | None = None, result: dict | None = None,
               worker_id: str | None = None) -> JobInfo:
        """The job's final state; with `worker_id`, only while that worker still holds it (a
        worker whose lease lapsed and was taken over must not overwrite the new run)."""
        with Session(self._write) as s, s.begin():
            row = self._get(s, job_id, lock=True)
            if worker_id is not None and row.worker_id != worker_id:
                return job_info(row)
            row.status, row.phase, row.error = status, status, error
            row.finished_at, row.lease_expires_at = utcnow(), None
            if artifact_id is not None:
                row.artifact_id = artifact_id
            if result is not None:
                row.result = result
            return job_info(row)

    def mark_interrupted(self, job_ids: list[int]) -> None:
        """Jobs whose process died: they keep their finished steps and can be resumed."""
        if not job_ids:
            return
        with Session(self._write) as s, s.begin():
            s.execute(update(Job).where(Job.id.in_(job_ids), Job.status.in_(ACTIVE))
                      .values(status="interrupted", phase="interrupted"))

    # steps ------------------------------------------------------------------------------
    def steps(self, job_id: int) -> dict[str, StepInfo]:
        with Session(self.engine) as s:
            rows = s.scalars(select(JobStep).where(JobStep.job_id == job_id)
                             .order_by(JobStep.id))
            return {r.key: _step(r) for r in rows}

    def save_step(self, job_id: int, key: str, label: str, text: str, prompt_tokens: int,
                  completion_tokens: int, seconds: float, pid: int | None, *,
                  keep_existing: bool = False) -> StepInfo:
        """Save a finished step; a step is saved once (IntegrityError), or with
        `keep_existing` the one saved already under `key` (by a worker that lost the job to
        this one, racing it) is kept and returned."""
        try:
            with Session(self._write) as s, s.begin():
                row = JobStep(job_id=job_id, key=key, label=label, text=text,
                              prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                              seconds=seconds, pid=pid)
                s.add(row)
                s.flush()
                return _step(row)
        except IntegrityError:
            existing = self.steps(job_id).get(key) if keep_existing else None
            if existing is None:  # not a duplicate step: e.g. the job was deleted
                raise
            return existing

    # artifacts --------------------------------------------------------------------------
    def save_artifact(self, project_id: int, job_id: int | None, **values) -> ArtifactInfo:
        with Session(self._write) as s, s.begin():
            row = Artifact(project_id=project_id, job_id=job_id, **values)
            s.add(row)
            s.flush()
            if job_id is not None:
                self._get(s, job_id).artifact_id = row.id
            return _artifact(row)

    def artifact(self, artifact_id: int) -> ArtifactInfo:
        with Session(self.engine) as s:
            row = s.get(Artifact, artifact_id)
            if row is None:
                raise JobNotFound(f"no artifact with id {artifact_id}")
            return _artifact(row)

    def artifacts(self, project_id: int) -> list[ArtifactInfo]:
        with Session(self.engine) as s:
            rows = s.scalars(select(Artifact).where(Artifact.project_id == project_id)
                             .order_by(Artifact.id.desc()))
            return [_artifact(r) for r in rows]
