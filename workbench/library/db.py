"""Connections to the library database (the SQLite file, or a PostgreSQL server): pragmas or
locks, transaction start, and migration to head.

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

On PostgreSQL (a `postgresql+psycopg://` URL, Settings.database_url) the same promises hold with
the server's own tools: a write transaction first takes `pg_advisory_xact_lock(WRITE_LOCK)`,
so writers queue exactly as on SQLite (the checks stores make "under the write lock" stay
true), waiting at most the busy timeout (`lock_timeout`, then LibraryBusy); migrations take the
same lock inside their one transaction (PostgreSQL's DDL is transactional), so a second
process waits, then finds the schema at head. The lock is released by the server when the
transaction ends or its connection dies.
Does not know: the tables themselves (models.py, migrations/) or the public API (store.py).
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import NullPool

from workbench.errors import DatabaseUnavailable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_S = 30.0
MIGRATE_TIMEOUT_S = 300.0  # waiting for another process's migration (a big rebuild) is normal
WRITE_OPTION = "longhand_write"
WRITE_LOCK = 0x4C6F6E67  # "Long": the one advisory lock key every Longhand writer takes
Target = Path | str  # an SQLite file, or the URL of a PostgreSQL server
POSTGRES_DRIVER = "postgresql+psycopg"


def _install_sqlite_hooks(engine: Engine, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        _switch_to_wal(cur)
        cur.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _switch_to_wal(cur: sqlite3.Cursor) -> None:
    """`PRAGMA journal_mode=WAL`, retried while another connection holds the file.

    Why the retry: switching a file into WAL takes an exclusive lock without calling the busy
    handler, so on a library still in rollback-journal mode (made by an old Longhand) the
    switch fails at once with "database is locked" while any other process reads it. Files
    Longhand creates are born in WAL mode (`_create_in_wal_mode`), where this is a no-op."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if not is_busy(err) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def _create_in_wal_mode(path: Path) -> None:
    """Create a missing SQLite file already in WAL mode, atomically.

    Why: six processes opening a fresh data dir at once would otherwise each create the file
    in rollback mode and race to switch it (see `_switch_to_wal`); one of them failed with
    "database is locked" under load. The file is made beside its final name, switched, and
    hard-linked into place (`os.link` never replaces a file another process linked first)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.new")
    con = sqlite3.connect(scratch)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()
    try:
        os.link(scratch, path)
    except FileExistsError:
        pass  # another process made it first: the same empty WAL file
    except OSError:
        pass  # no hard links on this file system: SQLite creates it, `_switch_to_wal` retries
    finally:
        scratch.unlink(missing_ok=True)


def _lock_for_write(conn, timeout_s: float) -> None:
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(timeout_s * 1000)}")
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")


def _install_postgres_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        if conn.get_execution_options().get(WRITE_OPTION, False):
            _lock_for_write(conn, BUSY_TIMEOUT_S)


def is_busy(err: Exception) -> bool:
    """Whether a driver error means another connection held the lock past the busy timeout."""
    orig = getattr(err, "orig", err)
    if getattr(orig, "sqlstate", None) == "55P03":  # PostgreSQL lock_not_available
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text


def as_target(value: Path | str) -> Target:
    """A string holding a URL stays a URL; anything else names an SQLite file."""
    text = str(value)
    return text if isinstance(value, str) and "://" in text else Path(text)


def prepare(value: Path | str) -> Target:
    """As `as_target`, creating an SQLite file's folder; the stores' `open` use it."""
    target = as_target(value)
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
    return target


def database_url(target: Target) -> URL:
    """The SQLAlchemy URL for a data dir's SQLite file (a Path) or a server URL (a str).

    `postgresql://` and `postgres://` mean psycopg 3, the one PostgreSQL driver installed."""
    if isinstance(target, Path):
        return make_url(f"sqlite+pysqlite:///{target}")
    try:
        url = make_url(str(target).strip())
    except ArgumentError as err:
        raise DatabaseUnavailable(f"database URL {_redacted(str(target))!r} is not a URL "
                             "(expected postgresql+psycopg://USER:PASSWORD@HOST/DB)") from err
    if url.drivername in ("postgresql", "postgres", POSTGRES_DRIVER):
        return url.set(drivername=POSTGRES_DRIVER)
    raise DatabaseUnavailable(f"database URL {url.render_as_string(hide_password=True)!r} is not "
                         "PostgreSQL: expected postgresql+psycopg://USER:PASSWORD@HOST/DB "
                         "(leave LONGHAND_DATABASE_URL unset for the data dir's SQLite file)")


def _redacted(text: str) -> str:
    head, at, tail = text.rpartition("@")
    return f"{head.split(':')[0]}:***@{tail}" if at and ":" in head.split("//")[-1] else text


def is_postgres(engine_or_url: Engine | URL) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else engine_or_url
    return url.get_backend_name() == "postgresql"


def describe(target: Target) -> str:
    """Where the library lives, for messages (a password is never shown)."""
    if isinstance(target, Path):
        return str(target)
    return database_url(target).render_as_string(hide_password=True)


def create_db_engine(target: Target) -> Engine:
    """The library's engine; use `engine.execution_options(longhand_write=True)` for writes."""
    url = database_url(target)
    if is_postgres(url):
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except ModuleNotFoundError as err:
            raise DatabaseUnavailable("PostgreSQL needs the psycopg driver: "
                                      "pip install -r requirements.txt") from err
        _install_postgres_hooks(engine)
        return engine
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S})
    _install_sqlite_hooks(engine, foreign_keys=True)
    return engine


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
        conn.rollback()
    return current


def _upgrade(conn, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def migrate(target: Target, revision: str = "head") -> None:
    """Bring the database (an SQLite file, created if missing, or a PostgreSQL database) to
    `revision` in one transaction."""
    url = database_url(target)
    if is_postgres(url):
        return _migrate_postgres(url, revision)
    db_path = Path(target)
    _create_in_wal_mode(db_path)
    engine = create_engine(url, poolclass=NullPool,
                           connect_args={"timeout": MIGRATE_TIMEOUT_S})
    _install_sqlite_hooks(engine, foreign_keys=False)
    try:
        if revision == "head" and current_revisions(engine) == _heads():
            return
        with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
            conn.begin()  # an outer transaction: Alembic then commits nothing on its own
            _upgrade(conn, revision)
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows that break foreign keys: {broken[:5]}")
            conn.commit()
    finally:
        engine.dispose()


def _migrate_postgres(url: URL, revision: str) -> None:
    try:
        engine = create_engine(url, poolclass=NullPool)
    except ModuleNotFoundError as err:
        raise DatabaseUnavailable("PostgreSQL needs the psycopg driver: "
                                  "pip install -r requirements.txt") from err
    try:
        try:
            current = current_revisions(engine)
        except OperationalError as err:
            reason = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
            raise DatabaseUnavailable(
                f"could not reach the library database at "
                f"{url.render_as_string(hide_password=True)}: {reason}") from err
        if revision == "head" and current == _heads():
            return
        with engine.connect() as conn:
            conn.begin()
            _lock_for_write(conn, MIGRATE_TIMEOUT_S)
            _upgrade(conn, revision)
            conn.commit()
    finally:
        engine.dispose()
