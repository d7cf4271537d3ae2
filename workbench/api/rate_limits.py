"""Per-key request limits in this process: requests per minute, tokens per minute, requests
in flight; each refusal says honestly when to come back.

Sliding windows of the last 60 seconds, per key id:
- rpm counts requests when they are admitted (a refused request does not count);
- tpm counts a request's tokens (prompt + completion) after the fact, when it has finished,
  as LiteLLM does: a request is admitted while the window's sum is under the limit, so one
  long answer may overshoot it, and the next request waits until enough has aged out;
- max_parallel counts admitted requests that have not finished.
`Retry-After` is the second at which the window will admit again (rpm, tpm), or the recent
average time of one generation for max_parallel (the soonest a slot is likely to free).
Why our own: a few deques per key; the limits libraries (limits, slowapi) key on routes and do
not count tokens after the fact. The state is per process: several app processes over one
database each apply the limits on their own.
Does not know keys, HTTP or the database.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

WINDOW_S = 60.0


class RateLimited(Exception):
    def __init__(self, limit: str, retry_after: int, message: str):
        super().__init__(message)
        self.limit, self.retry_after, self.message = limit, retry_after, message


@dataclass
class _Window:
    requests: deque = field(default_factory=deque)  # admission times
    tokens: deque = field(default_factory=deque)  # (finish time, tokens)
    in_flight: int = 0


@dataclass(frozen=True)
class Limits:
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None


class Lease:
    """One admitted request; `release(tokens)` once it has finished (idempotent)."""

    def __init__(self, limiter: "RateLimiter", key: int):
        self._limiter, self._key, self._done = limiter, key, False

    def release(self, tokens: int) -> None:
        if not self._done:
            self._done = True
            self._limiter._release(self._key, tokens)


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._windows: dict[int, _Window] = {}
        self._lock = threading.Lock()

    def acquire(self, key: int, limits: Limits, avg_seconds: float = 2.0) -> Lease:
        """A lease, or RateLimited with the seconds until the window admits again."""
        now = self._clock()
        with self._lock:
            w = self._windows.setdefault(key, _Window())
            _expire(w, now)
            if limits.max_parallel is not None and w.in_flight >= limits.max_parallel:
                raise RateLimited("max_parallel", _seconds(avg_seconds),
                                  f"this key allows {limits.max_parallel} requests at a time "
                                  f"and {w.in_flight} are running")
            if limits.rpm is not None and len(w.requests) >= limits.rpm:
                frees = w.requests[len(w.requests) - limits.rpm] + WINDOW_S
                raise RateLimited("rpm", _seconds(frees - now),
                                  f"this key allows {limits.rpm} requests per minute")
            if limits.tpm is not None:
                used = sum(t for _, t in w.tokens)
                if used >= limits.tpm:
                    raise RateLimited("tpm", _seconds(_tpm_frees(w, used, limits.tpm) - now),
                                      f"this key allows {limits.tpm} tokens per minute and "
                                      f"{used} were used in the last minute")
            w.requests.append(now)
            w.in_flight += 1
        return Lease(self, key)

    def _release(self, key: int, tokens: int) -> None:
        with self._lock:
            w = self._windows[key]
            w.in_flight -= 1
            if tokens > 0:
                w.tokens.append((self._clock(), tokens))


def _expire(w: _Window, now: float) -> None:
    while w.requests and w.requests[0] <= now - WINDOW_S:
        w.requests.popleft()
    while w.tokens and w.tokens[0][0] <= now - WINDOW_S:
        w.tokens.popleft()


def _tpm_frees(w: _Window, used: int, limit: int) -> float:
    """When enough of the oldest token counts have aged out to be under the limit again."""
    for when, tokens in w.tokens:
        used -= tokens
        if used < limit:
            return when + WINDOW_S
    return w.tokens[-1][0] + WINDOW_S


def _seconds(delay: float) -> int:
    return max(1, math.ceil(delay))
