"""`python -m workbench worker [--once] [--idle-exit S] [--lease S] [--poll S] [--kinds K,..]`:
claim jobs queued with `--detach` (synthesis, trust, training) and run them in this process.

Progress goes to stderr, one line per claimed and finished job; `--json` prints the jobs it
ran when it exits. SIGTERM or Ctrl-C hands the running job back (it stays resumable from its
saved steps); SIGKILL leaves it to the next worker once this process is seen to be gone (same
host) or its lease runs out (another host). The placement flags are app.py's.

Does not know SQL or the claim (workbench/jobs/worker.py, library/job_queue.py).
"""
from __future__ import annotations

import signal
import sys
from typing import Any

from workbench.jobs.worker import DEFAULT_LEASE_S, DEFAULT_POLL_S, Worker, WorkerOptions
from workbench.placement_flags import add_placement_flags


def _kinds(text: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in text.split(",") if k.strip())


def add_commands(command) -> None:
    p = command("worker", cmd_worker,
                "claim and run queued jobs (synthesize/trust/train-adapter --detach)")
    p.add_argument("--once", action="store_true", help="run at most one job, then exit")
    p.add_argument("--idle-exit", type=float, default=None, metavar="S",
                   help="exit after S seconds with nothing to claim (default: keep waiting)")
    p.add_argument("--lease", type=float, default=DEFAULT_LEASE_S, metavar="S",
                   help="a job whose worker sent no heartbeat for S seconds is claimable "
                        "again (default %(default)s)")
    p.add_argument("--poll", type=float, default=DEFAULT_POLL_S, metavar="S",
                   help="seconds between claims while nothing is queued")
    p.add_argument("--kinds", type=_kinds, default=(),
                   help="only these job kinds, comma-separated (default: all)")
    add_placement_flags(p)


def _summary(job) -> dict:
    return {"id": job.id, "kind": job.kind, "status": job.status, "error": job.error,
            "artifact_id": job.artifact_id, "result": job.result}


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def cmd_worker(wb, args) -> tuple[Any, str]:
    from workbench.jobs.registry import kinds

    unknown = sorted(set(args.kinds) - set(kinds()))
    if unknown:
        from workbench.errors import WorkbenchError

        raise WorkbenchError(f"unknown job kind {', '.join(unknown)}: choose from "
                             f"{', '.join(kinds())}")
    worker = Worker(wb.jobs, WorkerOptions(lease_s=args.lease, poll_s=args.poll,
                                           once=args.once, idle_exit_s=args.idle_exit,
                                           kinds=args.kinds))
    signal.signal(signal.SIGTERM, _stop)
    print(f"worker {worker.id} waiting for jobs", file=sys.stderr, flush=True)
    ran = worker.run(
        on_claim=lambda j: print(f"job {j.id} ({j.kind}): claimed", file=sys.stderr,
                                 flush=True),
        on_done=lambda j: print(f"job {j.id} ({j.kind}): {j.status}"
                                + (f": {j.error}" if j.error else ""), file=sys.stderr,
                                flush=True))
    data = {"worker": worker.id, "jobs": [_summary(j) for j in ran]}
    return data, f"worker {worker.id}: ran {len(ran)} job(s)"
