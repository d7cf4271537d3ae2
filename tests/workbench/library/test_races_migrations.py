"""Opening a fresh data dir from several processes at once: migrations are one transaction
under SQLite's write lock, so every process either applies all of them or finds the file at
head; none applies a revision another process already applied (`table ... already exists`)."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from workbench.library import db

ROOT = Path(__file__).resolve().parents[3]
PROCESSES = 6
ROUNDS = 2


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}


def _revision(path: Path) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        if "alembic_version" not in names:
            return []
        return con.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        con.close()


def _tables(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()


def test_six_first_commands_at_once_on_a_fresh_data_dir_all_succeed(tmp_path):
    head = db._heads()
    for round_ in range(ROUNDS):
        data = tmp_path / f"data{round_}"
        cmds = [["projects", "--json"], ["new-project", f"P{round_}"]] * (PROCESSES // 2)
        procs = [subprocess.Popen([sys.executable, "-m", "workbench", "--data-dir", str(data),
                                   *cmd], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for cmd in cmds]
        outs = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
        for p in procs:
            p.stdout.close()
            p.stderr.close()
        failed = [err for rc, _, err in outs if rc != 0]
        # Three processes race to create the same project: one wins, the others are told so.
        refused = [err for err in failed if "already exists" in err and "table" not in err]
        assert len(failed) == len(refused) == PROCESSES // 2 - 1, failed
        assert all(err.startswith("error: ") and "Traceback" not in err for err in refused)
        assert {r[0] for r in _revision(data / "workbench.db")} == head


def test_a_migration_killed_half_way_leaves_the_file_at_its_old_revision(tmp_path):
    path = tmp_path / "workbench.db"
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from alembic.operations import Operations
        from workbench.library import db
        original = Operations.create_table
        def create_then_die(self, name, *args, **kw):
            if name == "trust_runs":  # the last revision: the earlier ones ran already
                os._exit(9)
            return original(self, name, *args, **kw)
        Operations.create_table = create_then_die
        db.migrate(Path({str(path)!r}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    assert _revision(path) == [] and "jobs" not in _tables(path)
    db.migrate(path)
    assert {r[0] for r in _revision(path)} == db._heads()
    assert {"projects", "jobs", "adapters", "trust_runs"} <= _tables(path)


def test_a_fresh_library_file_is_born_in_wal_mode(tmp_path):
    # Switching a file into WAL skips the busy handler: a file made in rollback mode and opened
    # by six processes at once failed one of them with "database is locked" (CI, under load).
    path = tmp_path / "new" / "workbench.db"
    db._create_in_wal_mode(path)
    header = path.read_bytes()[:20]
    assert header.startswith(b"SQLite format 3\x00")
    assert header[18:20] == b"\x02\x02"  # read and write versions 2: WAL
    assert [p.name for p in path.parent.iterdir()] == ["workbench.db"]  # no scratch file left


def test_an_old_rollback_mode_file_switches_to_wal_once_its_reader_lets_go(tmp_path):
    import threading
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    old.execute("CREATE TABLE t (x)")
    old.execute("BEGIN")
    old.execute("SELECT * FROM t").fetchall()  # a shared lock held by an old reader
    threading.Timer(0.3, lambda: old.execute("COMMIT")).start()
    con = sqlite3.connect(path, timeout=0.05, check_same_thread=False)
    try:
        db._switch_to_wal(con.cursor())
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()
        old.close()
