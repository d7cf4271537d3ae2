"""Fixtures for synthesis tests: a Workbench on a throwaway data dir, the embedded default
backend (loaded once per session), and real documents from ../shared/testdocs."""
from __future__ import annotations

from pathlib import Path

import pytest

from workbench.config import DEFAULT_MODEL, Settings

CYBER_BOB = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"
MR3_ATG = "transcripts/Spacelog__Spacelog/mr3/ATG"
A11_TEC = "transcripts/Spacelog__Spacelog/a11/TEC"
SLICE_BYTES = 82_000  # about 30K tokens of the Apollo 11 log


@pytest.fixture
def wb(data_dir: Path):
    from workbench.workbench import Workbench

    bench = Workbench(Settings(data_dir=data_dir, cache_dir=Settings().cache_dir))
    bench.new_project("p")
    return bench


@pytest.fixture(scope="session")
def backend():
    from engine.backends.factory import make_backend

    return make_backend(DEFAULT_MODEL, cache_dir=Settings().cache_dir)


def a11_slice(testdocs: Path, out: Path, max_bytes: int) -> Path:
    """The start of the Apollo 11 log, cut at an utterance boundary, as its own file."""
    text = (testdocs / A11_TEC).read_text(encoding="utf-8")
    cut = text.rfind("\n\n", 0, max_bytes)
    out.write_text(text[:cut + 1], encoding="utf-8")
    return out
