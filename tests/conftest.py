"""Shared fixtures: real documents from ../shared/testdocs and throwaway data dirs."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTDOCS = (ROOT / ".." / "shared" / "testdocs").resolve()


@pytest.fixture(scope="session")
def testdocs() -> Path:
    if not TESTDOCS.is_dir():
        pytest.fail(f"real test documents expected at {TESTDOCS} (the shared/ folder beside the repo)")
    return TESTDOCS


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d
