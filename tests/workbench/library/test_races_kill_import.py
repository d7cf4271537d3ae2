"""kill -9 of `import` with a 40-file batch of real prose, at several points (while parsing,
the moment its write transaction holds the lock, a little later, late in the run): each time
the project holds all 40 documents or none, `PRAGMA integrity_check` and the FTS5 index check
pass, and the same import afterwards lands whole (or is refused whole as already there)."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
SHERLOCK = "prose/jsvine__markovify/sherlock.txt"
FILES = 40


def _cmd(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "workbench", "--data-dir", str(data_dir), *args]


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(data_dir, *args), cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=600)


def batch(testdocs: Path, folder: Path) -> list[str]:
    """Sherlock Holmes cut into 40 real, different text files."""
    lines = (testdocs / SHERLOCK).read_text(encoding="utf-8").splitlines(keepends=True)
    per = len(lines) // FILES
    folder.mkdir()
    paths = []
    for i in range(FILES):
        path = folder / f"sherlock-{i:02d}.txt"
        path.write_text("".join(lines[i * per:(i + 1) * per]), encoding="utf-8")
        paths.append(str(path))
    return paths


def writer_holds_lock(db: Path) -> bool:
    con = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        con.close()


def check(db: Path) -> int:
    """Documents in the file after the kill; asserts the file is sound."""
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.execute("INSERT INTO sections_fts(sections_fts) VALUES ('integrity-check')")
        docs = con.execute("SELECT count(*) FROM documents").fetchone()[0]
        versions = con.execute("SELECT count(*) FROM versions").fetchone()[0]
        orphans = con.execute("SELECT count(*) FROM sections WHERE version_id NOT IN "
                              "(SELECT id FROM versions)").fetchone()[0]
        assert docs == versions and orphans == 0
        return docs
    finally:
        con.close()


def kill_at(data_dir: Path, files: list[str], point: str, seconds: float) -> tuple[int, str]:
    db = data_dir / "workbench.db"
    proc = subprocess.Popen(_cmd(data_dir, "import", "P", *files), cwd=ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.monotonic()
    hit = "exited"
    while proc.poll() is None:
        elapsed = time.monotonic() - start
        if point == "time" and elapsed >= seconds:
            hit = "time"
        elif point == "lock" and writer_holds_lock(db):
            time.sleep(seconds)
            hit = "lock"
        if hit != "exited":
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.001 if point == "lock" else 0.01)
    proc.wait()
    return check(db), hit


def test_import_killed_at_several_points_is_all_or_nothing(data_dir, testdocs, tmp_path):
    files = batch(testdocs, tmp_path / "batch")
    assert cli(data_dir, "new-project", "P").returncode == 0
    timed = cli(tmp_path / "timing", "new-project", "P")
    assert timed.returncode == 0
    start = time.monotonic()
    whole = cli(tmp_path / "timing", "import", "P", *files)
    took = time.monotonic() - start
    assert whole.returncode == 0, whole.stderr

    outcomes = []
    for point, seconds in (("time", took * 0.3), ("lock", 0.0), ("lock", 0.02),
                           ("time", took * 0.9)):
        docs, hit = kill_at(data_dir, files, point, seconds)
        outcomes.append((point, seconds, hit, docs))
        assert docs in (0, FILES), outcomes
        if docs == FILES:
            break  # a kill after the commit: the batch is in, whole
    print("kill points (point, delay, hit, documents):", outcomes)
    assert any(hit == "lock" for _, _, hit, _ in outcomes), outcomes

    again = cli(data_dir, "import", "P", *files)
    if outcomes[-1][-1] == 0:
        assert again.returncode == 0, again.stderr
    else:
        assert again.returncode == 2 and "already in the project" in again.stderr
    shown = json.loads(cli(data_dir, "show", "P", "--json").stdout)["documents"]
    assert len(shown) == FILES and check(data_dir / "workbench.db") == FILES
