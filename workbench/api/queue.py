"""Bounded admission: one local model serves a few requests at a time; the rest wait or get 429.

Owns the count of admitted requests (running + waiting), the worker slots, and the Retry-After
estimate. A request is admitted only while `running + waiting < workers + size`; otherwise it
is refused at once with 429 and a Retry-After from the recent average generation time, so a
burst can never pile up unbounded work or leave a client hanging.
Does not know the engine: a slot is held by whoever runs the generation (engine_stream.py) and
given back when that generation's thread has really finished, not when its client went away.
Runs on the server's event loop; nothing here is touched from worker threads.
"""
from __future__ import annotations

import asyncio
import math
import time

from .errors import busy


class AdmissionQueue:
    """`workers` generations at once (1 for a local model), `size` more waiting in line."""

    def __init__(self, size: int, workers: int = 1):
        if size < 0 or workers < 1:
            raise ValueError("queue size must be >= 0 and workers >= 1")
        self.size, self.workers = size, workers
        self._slots: asyncio.Semaphore | None = None
        self.admitted = 0  # running + waiting
        self.running = 0
        self._avg_seconds = 2.0  # moving average of one generation, for Retry-After

    @property
    def waiting(self) -> int:
        return self.admitted - self.running

    def admit(self) -> "Ticket":
        """A place in line, or ApiError 429 with Retry-After when the line is full."""
        if self.admitted >= self.workers + self.size:
            raise busy(self.retry_after(), self.waiting)
        self.admitted += 1
        return Ticket(self)

    def retry_after(self) -> int:
        ahead = max(1, self.admitted)
        return max(1, min(120, math.ceil(self._avg_seconds * ahead / self.workers)))

    @property
    def avg_seconds(self) -> float:
        """The recent average time of one generation."""
        return self._avg_seconds

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        return self._slots

    def _record(self, seconds: float) -> None:
        self._avg_seconds = 0.8 * self._avg_seconds + 0.2 * seconds


class Ticket:
    """One admitted request. `release` is idempotent and frees the slot if it was held."""

    def __init__(self, queue: AdmissionQueue):
        self._queue = queue
        self._holding = False
        self._released = False
        self._started = 0.0

    async def wait_turn(self) -> None:
        """Wait for a worker slot; cancelling the wait (client gone) gives up the place."""
        try:
            await self._queue._semaphore().acquire()
        except BaseException:
            self.release()
            raise
        if self._released:  # released while waiting: hand the slot straight back
            self._queue._semaphore().release()
            raise asyncio.CancelledError()
        self._holding = True
        self._queue.running += 1
        self._started = time.monotonic()

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._queue.admitted -= 1
        if self._holding:
            self._holding = False
            self._queue.running -= 1
            self._queue._record(time.monotonic() - self._started)
            self._queue._semaphore().release()
