"""The generate bench survives its reference: a llama.cpp child that crashes (a build whose
CPU path faults on this machine, as the AMX/repack path did on Sapphire Rapids) becomes a
reason on every row instead of a bench that prints nothing."""
from __future__ import annotations

import faulthandler

from engine.bench.generate import reference_in_child


def _segfaults(queue) -> None:
    faulthandler._sigsegv()  # a real SIGSEGV, as a faulting native kernel raises


def _answers(queue) -> None:
    queue.put({"prefill_s": 1.5})


def test_a_reference_killed_by_sigsegv_is_a_reason():
    got = reference_in_child(_segfaults)  # in a spawned child, as the bench runs llama.cpp
    assert set(got) == {"error"}
    assert "_segfaults died: killed by signal 11 (SIGSEGV)" in got["error"]


def test_a_reference_that_answers_gives_its_figures():
    assert reference_in_child(_answers) == {"prefill_s": 1.5}
