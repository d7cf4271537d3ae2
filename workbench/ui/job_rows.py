"""The Synthesize tab's jobs of a project, wherever they run: in this app, or in a `worker`
process (jobs queued with --detach, from the CLI or from this tab's "Run on a worker" switch).

Why a table here: a studio runs its long jobs on worker processes (other machines, the same
PostgreSQL library); without it the browser could queue nothing and see none of them, and
only `job-status` told what a worker was doing. The rows are read from the jobs table, so
they show what any process wrote.
Glue only; does not know SQL (library/jobs_store.py) or how workers claim (job_queue.py).
"""
from __future__ import annotations

from datetime import datetime

HEADERS = ["ID", "Kind", "Status", "Progress", "Runs on", "Queued", "Finished"]
ROWS_SHOWN = 20  # the newest; older ones stay in `python -m workbench job-status`


def runs_on(job) -> str:
    """Who runs (or ran) the job: this app, a named worker, or nobody yet."""
    if not job.detached:
        return "this app"
    if job.worker_id:
        host = f" on {job.owner_host}" if job.owner_host else ""
        return f"worker {job.worker_id.rsplit(':', 1)[-1]}{host}"
    if job.status == "queued":
        return "waiting for a worker (python -m workbench worker)"
    return "a worker"


def progress(job) -> str:
    where = f" {job.step}/{job.steps_total}" if job.steps_total else ""
    return f"{job.phase}{where}" if job.phase else ""


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else ""


def rows(wb, project: str | None) -> list[list]:
    """The project's newest jobs first, one row each."""
    if not project:
        return []
    project_id = wb.library.get_project(project).id
    jobs = sorted(wb.jobs.store.jobs(project_id), key=lambda j: j.id, reverse=True)
    return [[j.id, j.kind, j.status + (f": {j.error}" if j.error else ""), progress(j),
             runs_on(j), _when(j.created_at), _when(j.finished_at)]
            for j in jobs[:ROWS_SHOWN]]
