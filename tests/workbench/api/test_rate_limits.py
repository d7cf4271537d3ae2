"""The per-key sliding windows, on a clock the test moves: Retry-After is the second at which
the window admits again, tokens count once a request has finished, parallel slots come back."""
from __future__ import annotations

import pytest

from workbench.api.rate_limits import Limits, RateLimited, RateLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rpm_retry_after_is_when_the_oldest_request_leaves_the_minute():
    clock = Clock()
    limiter = RateLimiter(clock)
    for step in (0, 10, 20):
        clock.now = 1000 + step
        limiter.acquire(1, Limits(rpm=3)).release(0)
    clock.now = 1030
    with pytest.raises(RateLimited) as over:
        limiter.acquire(1, Limits(rpm=3))
    assert over.value.limit == "rpm" and over.value.retry_after == 30  # 1000 + 60 - 1030
    limiter.acquire(2, Limits(rpm=3))  # another key has its own window
    clock.now = 1060.5
    limiter.acquire(1, Limits(rpm=3))  # the first request has aged out


def test_tpm_counts_tokens_after_the_fact():
    clock = Clock()
    limiter = RateLimiter(clock)
    first = limiter.acquire(1, Limits(tpm=100))
    second = limiter.acquire(1, Limits(tpm=100))  # nothing finished yet: admitted
    first.release(70)
    clock.now += 5
    second.release(70)
    third = limiter.acquire(1, Limits(tpm=150))  # 140 < 150
    third.release(0)
    with pytest.raises(RateLimited) as over:
        limiter.acquire(1, Limits(tpm=100))  # 140 >= 100
    # dropping the first 70 leaves 70 < 100: admitted again when it ages out, 55 s from now
    assert over.value.limit == "tpm" and over.value.retry_after == 55
    assert "140 were used" in over.value.message


def test_max_parallel_frees_a_slot_when_a_request_finishes():
    limiter = RateLimiter(Clock())
    held = limiter.acquire(1, Limits(max_parallel=1))
    with pytest.raises(RateLimited) as over:
        limiter.acquire(1, Limits(max_parallel=1), avg_seconds=2.4)
    assert over.value.limit == "max_parallel" and over.value.retry_after == 3
    held.release(10)
    held.release(10)  # idempotent: one slot back, not two
    limiter.acquire(1, Limits(max_parallel=1))
    with pytest.raises(RateLimited):
        limiter.acquire(1, Limits(max_parallel=1))
