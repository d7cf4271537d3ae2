"""The progress bar's figures from measured rates: a driven clock stands for time passing."""
from __future__ import annotations

import pytest

from workbench.synthesis.progress_figures import Meter


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_reading_percent_rate_and_time_left(clock):
    meter = Meter(clock)
    shown = meter.start_step("whole", 1, 1, 200)
    assert shown.percent == 0 and shown.label == "reading the prompt 0%"
    assert shown.seconds_left is None and shown.where == ""
    meter.reading(0, 4000)
    clock.now += 10
    shown = meter.reading(1720, 4000)  # 172 tokens/s: 2280 left is about 13 s
    assert shown.percent == 43 and shown.label == "reading the prompt 43%"
    assert shown.seconds_left == pytest.approx(2280 / 172)
    assert shown.text() == "reading the prompt 43% · about 13 s left"


def test_the_prefix_cache_share_does_not_count_as_speed(clock):
    meter = Meter(clock)
    meter.start_step("whole", 1, 1, 100)
    meter.reading(3000, 4000, cached=3000)  # restored at once
    clock.now += 5
    shown = meter.reading(3500, 4000, cached=3000)  # 100 tokens/s from here
    assert shown.percent == 87 and shown.seconds_left == pytest.approx(5.0)


def test_writing_tokens_per_second_and_time_left(clock):
    meter = Meter(clock)
    meter.start_step("whole", 1, 1, 100)
    meter.reading(0, 1000)
    clock.now += 4
    meter.reading(1000, 1000)
    shown = meter.wrote()
    assert shown.label == "writing started" and shown.seconds_left is None
    for _ in range(25):
        clock.now += 0.08
        shown = meter.wrote()
    assert shown.label == "writing 12.5 tokens/s" and shown.percent == 26
    assert shown.seconds_left == pytest.approx(74 / 12.5)
    assert shown.text() == "writing 12.5 tokens/s · about 6 s left"


def test_a_plan_shows_steps_done_of_total_and_the_rest_at_the_average(clock):
    meter = Meter(clock)
    for n in (1, 2):
        meter.start_step("map", n, 4, 10)
        meter.reading(0, 500)
        clock.now += 5
        meter.reading(500, 500)
        for _ in range(10):
            clock.now += 0.5
            meter.wrote()
        meter.finish_step()  # each part took 10 s
    shown = meter.start_step("map", 3, 4, 10)
    assert shown.where == "part 3 of 4" and shown.percent == 50
    meter.reading(0, 500)
    clock.now += 2
    shown = meter.reading(200, 500)  # 100 tokens/s: 3 s to read, 10 tokens at 2/s, one part
    assert shown.percent == 55  # (2 + 0.5 * 0.4) / 4
    assert shown.seconds_left == pytest.approx(3 + 5 + 10)
    assert shown.text() == "part 3 of 4 · reading the prompt 40% · about 18 s left"
    last = meter.start_step("reduce", 4, 4, 10)
    assert last.where == "combining step 4 of 4" and last.percent == 75
    assert last.as_dict()["text"] == "combining step 4 of 4 · reading the prompt 0%"


def test_time_left_follows_the_latest_chunk_which_reads_slower(clock):
    meter = Meter(clock)
    meter.start_step("whole", 1, 1, 0)
    meter.reading(0, 3072)
    clock.now += 2
    meter.reading(1024, 3072)  # 512 tokens/s
    clock.now += 4
    shown = meter.reading(2048, 3072)  # 256 tokens/s now: 1024 left is 4 s, not 3
    assert shown.percent == 66 and shown.seconds_left == pytest.approx(4.0)
