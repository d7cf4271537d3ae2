"""Shared fixtures: real documents from ../shared/testdocs, throwaway data dirs, and one
PostgreSQL server per session (tests/support/postgres_server.py) with a fresh database a test."""
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


@pytest.fixture(scope="session")
def postgres_server():
    from postgres_server import start_or_skip

    server = start_or_skip()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The session's PostgreSQL database, emptied for this test (a postgresql+psycopg:// URL)."""
    return postgres_server.clean_database()


@pytest.fixture
def postgres_empty_url(postgres_server) -> str:
    """A brand-new database with no tables at all (for migration tests)."""
    return postgres_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str | None:
    """Run a test on both: None (the data dir's SQLite file) and a PostgreSQL database URL."""
    return None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
