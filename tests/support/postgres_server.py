"""A real PostgreSQL server for tests, started from the installed binaries in a temp dir.

One server per test session (`postgres_server` fixture, see tests/conftest.py). Most tests get
`clean_database()`: one database shared by the session, its tables emptied (and ids restarted)
before each test, so tests never see each other's rows and the schema is migrated once; a
test of migrations themselves takes a brand-new database from `new_database()`.
initdb refuses to run as root, so under root the cluster belongs to the unprivileged
`postgres` user the Debian package creates, and every binary runs through `runuser`. The
server listens on a free loopback port and on a socket in its own temp dir, trusts local
connections (nothing else can reach it) and is stopped at the end of the session.
Why not pytest-postgresql: it is not in the package index this project installs from, and the
part we need is this short file.
Missing binaries skip the PostgreSQL tests on a developer machine and fail them under CI
(the `CI` variable, as the browser tests treat a missing Chromium).
"""
from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

BIN_GLOB = "/usr/lib/postgresql/*/bin"
INSTALL_HINT = "apt-get install postgresql"


def find_bindir() -> Path | None:
    """The newest installed server's bin folder (Debian layout), else one on PATH."""
    candidates = sorted(Path("/").glob(BIN_GLOB.lstrip("/")),
                        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    for bindir in reversed(candidates):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="longhand-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "postgres"
        self._as_other = os.geteuid() == 0
        self._names = itertools.count(1)
        self._shared: str | None = None
        if self._as_other:
            shutil.chown(self.root, user=self.user)
        self.root.chmod(0o700)

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_other:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")

    def start(self) -> "PostgresServer":
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8", "-N")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:  # immediate: no shutdown checkpoint, the cluster is thrown away
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def _dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={database}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database (no tables); returns its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" STRATEGY = FILE_COPY')
        return self.url(name)

    def clean_database(self) -> str:
        """The session's shared database with every table emptied and its ids restarted (the
        schema stays: Library.open finds it at head, or migrates it the first time)."""
        import psycopg

        if self._shared is None:
            self._shared = self.new_database("shared")
        name = self._shared.rsplit("/", 1)[1]
        with psycopg.connect(self._dsn(name), autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'")]
            if tables:
                conn.execute("SET lock_timeout = '10s'")  # a test that left a write open
                conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                             + " RESTART IDENTITY CASCADE")
        return self._shared


def start_or_skip() -> PostgresServer:
    """Start a server, or skip (fail under CI) when PostgreSQL or psycopg is missing."""
    reason = None
    bindir = find_bindir()
    if bindir is None:
        reason = f"PostgreSQL server binaries are not installed ({INSTALL_HINT})"
    else:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            reason = "psycopg is not installed (pip install -r requirements.txt)"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must run the PostgreSQL tests")
        pytest.skip(reason)
    return PostgresServer(bindir).start()
