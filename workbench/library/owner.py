"""Who owns a running job or training row: process id, process start time and host, so a row
whose process died (kill -9, a power cut) reads as interrupted instead of running forever.

Why the start time and host beside the pid: pids are reused (after a reboot, almost surely),
and a process killed with SIGKILL stays a zombie until its parent reaps it (for ever, in a
container whose init does not reap); `os.kill(pid, 0)` and `psutil.pid_exists` call both of
those alive. The owner's start time as psutil reports it (boot time plus start ticks, so it
is stable for the life of a process) is recorded when a row is claimed and compared with the
pid's start time now. A row owned by another host (a data dir on a shared disk) cannot be
checked from here and is taken at its word.
Does not know: tables, or what the row is for.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psutil

START_TOLERANCE_S = 1.0  # create_time is derived from clock ticks; a reused pid differs more


@dataclass(frozen=True)
class Owner:
    pid: int
    started: float | None
    host: str


def current() -> Owner:
    """This process (looked up each time: a forked child is another owner)."""
    pid = os.getpid()
    return Owner(pid, psutil.Process(pid).create_time(), socket.gethostname())


def gone(pid: int | None, started: float | None, host: str | None) -> bool:
    """Whether the recorded owner has certainly stopped; False when it cannot be told."""
    if pid is None or (host is not None and host != socket.gethostname()):
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return True
        return started is not None and abs(proc.create_time() - started) > START_TOLERANCE_S
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:  # a live process we may not inspect: cannot tell
        return False
