"""Fixtures for synthesis tests: a Workbench on a throwaway data dir, the embedded default
backend (loaded once per session), and real documents from ../shared/testdocs."""
from __future__ import annotations

from pathlib import Path

import pytest

from workbench.config import DEFAULT_MODEL, Settings


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

