"""Connections to the SQLite file: pragmas, transaction start, and migration to head.

Why: the UI and background jobs share one Library across threads, so every connection gets
WAL (readers never block the writer), foreign keys ON, and a busy timeout; write transactions
start with BEGIN IMMEDIATE so two writers queue on the lock instead of failing with
SQLITE_BUSY when a read transaction tries to upgrade. The driver's own implicit transaction
handling is switched off (isolation_level=None) and we emit BEGIN ourselves, which also makes
DDL in migrations transactional.

Migrations run on a separate, short-lived engine with foreign keys OFF, as SQLite requires for
Alembic's batch table rebuilds (dropping a parent table with foreign keys on would cascade),
and are followed by `PRAGMA foreign_key_check`.

Why migrations are one BEGIN IMMEDIATE transaction, and not one per revision: Alembic treats
SQLite as non-transactional DDL and commits after every revision, so six processes opening a
fresh data dir at once each read "no version" (or an old one), then take turns applying the
same revisions and fail with `table ... already exists`. We open the transaction ourselves
before Alembic sees the connection, so Alembic runs inside it: the current revision is read
under SQLite's write lock, nothing is visible to others until the file is at head, a second
process waits on that lock (busy timeout) and then finds nothing to do, and a process killed
mid-migration leaves the file at its old revision. SQLite's own lock is used rather than an OS
file lock (fcntl) because it is the one every client of the file already honours, on every
platform, and it is released by the OS when a holder dies. A file already at head is checked
with a plain read first, so opening a library never waits behind a long import.
Does not know: the tables themselves (models.py, migrations/) or the public API (store.py).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_S = 30.0
MIGRATE_TIMEOUT_S = 300.0  # waiting for another process's migration (a big rebuild) is normal
WRITE_OPTION = "longhand_write"


def _install_hooks(engine: Engine, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_busy(err: Exception) -> bool:
    """Whether a driver error means another connection held the lock past the busy timeout."""
    text = str(getattr(err, "orig", err)).lower()
    return "database is locked" in text or "database is busy" in text


def _url(db_path: Path) -> str:
    return f"sqlite+pysqlite:///{db_path}"


def create_db_engine(db_path: Path) -> Engine:
    """The library's engine; use `engine.execution_options(longhand_write=True)` for writes."""
    engine = create_engine(
        _url(db_path),
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S},
    )
    _install_hooks(engine, foreign_keys=True)
    return engine


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def migrate(db_path: Path, revision: str = "head") -> None:
    """Bring the database file to `revision` (creating it if missing) in one transaction."""
    engine = create_engine(_url(db_path), poolclass=NullPool,
                           connect_args={"timeout": MIGRATE_TIMEOUT_S})
    _install_hooks(engine, foreign_keys=False)
    try:
        if revision == "head" and db_path.exists():
            with engine.connect() as conn:
                current = set(MigrationContext.configure(conn).get_current_heads())
                conn.rollback()
            if current == _heads():
                return
        with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
            conn.begin()  # an outer transaction: Alembic then commits nothing on its own
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows that break foreign keys: {broken[:5]}")
            conn.commit()
    finally:
        engine.dispose()
