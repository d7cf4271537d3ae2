"""The worker side of the jobs table: claim the next detached job, renew its lease, let it go.

Why hand-written `SELECT ... FOR UPDATE SKIP LOCKED` and not a queue library: procrastinate
and pgqueuer are PostgreSQL-only (LISTEN/NOTIFY, their own schema), so SQLite would need a
second queue; celery, dramatiq and rq need a broker (Redis, RabbitMQ) that a local-first app
does not run; huey has SQLite storage but no PostgreSQL one. Each would also keep the job
twice (its queue's row and ours, which the UI, `job-status`, resume and cancel read). The
queue here *is* the jobs table: one claim statement, written once for both dialects. On
PostgreSQL the candidate rows are read `FOR UPDATE SKIP LOCKED`, so concurrent claimers never
wait on or take the same row; on SQLite the claim is one `BEGIN IMMEDIATE` transaction (the
store's write option), which serialises claimers on the database lock (SQLAlchemy renders no
FOR UPDATE there).

A job is claimable when it is detached and either queued and never claimed, or its owner is
gone: a worker on this host whose process died (owner.py), or any worker whose lease ran out
because its heartbeat stopped (a worker on another host that vanished, or hangs). A claimed
row carries the worker's id, pid, process start time and host, and a lease the worker renews
with `heartbeat`; the job's saved steps are its checkpoint, so a new claimer resumes it.

Does not know what a job does or how workers loop (workbench/jobs/worker.py).
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session

from workbench.library import owner
from workbench.library.db import WRITE_OPTION
from workbench.library.jobs_models import Job
from workbench.library.jobs_store import ACTIVE, JobInfo, job_info, owner_gone
from workbench.library.models import utcnow

CLAIM_SCAN = 32  # candidate rows read (and locked) per claim


class JobQueue:
    """Claims on the jobs table for one worker identity."""

    def __init__(self, engine: Engine, worker_id: str):
        self.engine, self.worker_id = engine, worker_id
        self._write = engine.execution_options(**{WRITE_OPTION: True})

    def claim(self, lease_s: float, kinds: tuple[str, ...] = ()) -> JobInfo | None:
        """Take the oldest claimable job for this worker and mark it running, or None."""
        me, now = owner.current(), utcnow()
        q = (select(Job)
             .where(Job.detached == 1, Job.cancel_requested == 0,
                    Job.status.in_((*ACTIVE, "interrupted")),
                    or_(Job.status == "interrupted",
                        (Job.status == "queued") & Job.worker_id.is_(None) & Job.pid.is_(None),
                        Job.lease_expires_at < now, Job.owner_host == me.host)))
        if kinds:
            q = q.where(Job.kind.in_(kinds))
        q = q.order_by(Job.id).limit(CLAIM_SCAN).with_for_update(skip_locked=True)
        with Session(self._write) as s, s.begin():
            for row in s.scalars(q).all():
                fresh = row.status == "queued" and row.worker_id is None and row.pid is None
                if not (fresh or row.status == "interrupted" or owner_gone(row)):
                    continue  # a live worker on this host holds it
                row.status, row.error, row.heartbeat_at = "running", None, now
                row.worker_id, row.lease_expires_at = self.worker_id, now + timedelta(
                    seconds=lease_s)
                row.pid, row.owner_started, row.owner_host = me.pid, me.started, me.host
                row.started_at = row.started_at or now
                return job_info(row)
        return None

    def heartbeat(self, job_id: int, lease_s: float) -> bool:
        """Renew the lease; False when this worker no longer holds the job (taken over after
        a lapse, or finished by someone else), so it must stop working on it."""
        now = utcnow()
        with Session(self._write) as s, s.begin():
            done = s.execute(update(Job)
                             .where(Job.id == job_id, Job.worker_id == self.worker_id,
                                    Job.status == "running")
                             .values(heartbeat_at=now,
                                     lease_expires_at=now + timedelta(seconds=lease_s)))
            return done.rowcount == 1

    def release(self, job_id: int) -> None:
        """Give a job back unfinished (the worker is stopping): claimable again at once."""
        with Session(self._write) as s, s.begin():
            s.execute(update(Job).where(Job.id == job_id, Job.worker_id == self.worker_id,
                                        Job.status == "running")
                      .values(status="interrupted", phase="interrupted",
                              lease_expires_at=None))
