"""The database every worker test runs against, from one fixture, so the same tests can run
over SQLite (here: the data dir's file) and PostgreSQL (`LONGHAND_DATABASE_URL` in `env`)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class JobDb:
    data_dir: Path
    url: str
    env: dict  # the environment for subprocesses (CLI, workers) that selects this database

    def settings(self):
        from workbench.config import Settings

        return Settings.from_sources({"data_dir": self.data_dir}, env=self.env)

    def store(self):
        from workbench.library.db import as_target, create_db_engine
        from workbench.library.jobs_store import JobStore

        sqlite = self.url.startswith("sqlite:")
        return JobStore(create_db_engine(self.data_dir / "workbench.db" if sqlite
                                         else as_target(self.url)))


@pytest.fixture
def job_db(data_dir: Path, database_url) -> JobDb:
    """Parametrized by tests/conftest.py's `database_url`: SQLite file, then PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
    if database_url is None:
        return JobDb(data_dir, f"sqlite:///{data_dir / 'workbench.db'}", env)
    return JobDb(data_dir, database_url, {**env, "LONGHAND_DATABASE_URL": database_url})
