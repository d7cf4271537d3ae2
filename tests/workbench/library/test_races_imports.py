"""Two writers, as users make them: CLI imports started at the same moment into one data dir
end exactly as the same imports one after the other (all or nothing per batch, no row lost,
no "database is locked"), and a batch holding two different files under one name is refused
instead of turning the first into a hidden version 1 of the second."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCREENPLAIN = "screenplays/vilcans__screenplain"
FILES = ("simple.fountain", "scene-numbers.fountain", "sections.fountain", "notes.fountain",
         "title-page.fountain", "dual-dialogue.fountain")


def _cmd(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "workbench", "--data-dir", str(data_dir), *args]


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(data_dir, *args), cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=300)


def at_once(data_dir: Path, *commands: list[str]) -> list[tuple[int, str, str]]:
    procs = [subprocess.Popen(_cmd(data_dir, *c), cwd=ROOT, env=_env(), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in commands]
    return [(p.returncode, out, err) for p in procs for out, err in [p.communicate(timeout=300)]]


def shown(data_dir: Path) -> list[dict]:
    out = cli(data_dir, "show", "P", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["documents"]


def _no_traceback(results) -> None:
    for _, _, err in results:
        assert "Traceback" not in err and "database is locked" not in err, err


def test_overlapping_batches_at_once_end_as_they_do_in_sequence(data_dir, testdocs,
                                                               database_url, monkeypatch):
    """On SQLite the check runs under BEGIN IMMEDIATE, on PostgreSQL under the advisory write
    lock (workbench/library/db.py): the same end state either way."""
    if database_url is not None:
        base = _env()
        monkeypatch.setitem(globals(), "_env",
                            lambda: {**base, "LONGHAND_DATABASE_URL": database_url})
    files = [str(testdocs / SCREENPLAIN / f) for f in FILES]
    assert cli(data_dir, "new-project", "P").returncode == 0
    first, second = files[0:3], files[2:5]  # both hold sections.fountain
    results = at_once(data_dir, ["import", "P", *first], ["import", "P", *second])
    _no_traceback(results)
    codes = sorted(rc for rc, _, _ in results)
    assert codes == [0, 2], results
    won = first if results[0][0] == 0 else second
    refusal = next(err for rc, _, err in results if rc == 2)
    assert "sections.fountain" in refusal and "already in the project" in refusal
    assert "nothing was imported" in refusal
    docs = shown(data_dir)
    assert sorted(d["id"] for d in docs) == list(range(1, len(docs) + 1))
    assert len(docs) == len(won) and all(d["version"] == 1 for d in docs)
    # In sequence the second batch is refused whole too: the same end state.
    again = cli(data_dir, "import", "P", *(second if won is first else first))
    assert again.returncode == 2 and "already in the project" in again.stderr
    assert shown(data_dir) == docs


def test_disjoint_batches_at_once_both_land_whole(data_dir, testdocs):
    files = [str(testdocs / SCREENPLAIN / f) for f in FILES]
    assert cli(data_dir, "new-project", "P").returncode == 0
    results = at_once(data_dir, ["import", "P", *files[0:3]], ["import", "P", *files[3:6]])
    _no_traceback(results)
    for rc, _, err in results:
        assert rc == 0 or (rc == 2 and "busy" in err and "try again" in err), err
    landed = sum(3 for rc, _, _ in results if rc == 0)
    assert len(shown(data_dir)) == landed >= 3


def test_two_different_files_under_one_name_refuse_the_batch(data_dir, testdocs, tmp_path):
    for folder, source in (("a", FILES[0]), ("b", FILES[1])):
        (tmp_path / folder).mkdir()
        shutil.copy(testdocs / SCREENPLAIN / source, tmp_path / folder / "scene.fountain")
    assert cli(data_dir, "new-project", "P").returncode == 0
    out = cli(data_dir, "import", "P", str(tmp_path / "a" / "scene.fountain"),
              str(tmp_path / "b" / "scene.fountain"))
    assert out.returncode == 2, out.stdout
    assert out.stderr.startswith("error: ") and "same name “scene.fountain”" in out.stderr
    assert "nothing was imported" in out.stderr and "Traceback" not in out.stderr
    assert shown(data_dir) == []
    # One at a time, the second is a new draft of the first, as a user meant it.
    assert cli(data_dir, "import", "P", str(tmp_path / "a" / "scene.fountain")).returncode == 0
    assert cli(data_dir, "import", "P", str(tmp_path / "b" / "scene.fountain")).returncode == 0
    assert [d["version"] for d in shown(data_dir)] == [2]


def test_a_writer_held_up_past_the_busy_timeout_is_told_busy(data_dir, monkeypatch):
    import sqlite3

    import pytest

    from workbench.errors import LibraryBusy
    from workbench.library import Library, db

    Library.open(data_dir).close()
    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(data_dir / "workbench.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    try:
        with Library(data_dir) as lib:
            with pytest.raises(LibraryBusy, match="busy .* try again"):
                lib.create_project("P")
            assert lib.list_projects() == []  # readers are not held up by the writer
    finally:
        holder.rollback()
        holder.close()
    with Library(data_dir) as lib:
        assert lib.create_project("P").name == "P"
