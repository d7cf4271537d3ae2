"""`export` and `export-artifact` as a user runs them: they never write over the library's own
files (the database, its -wal/-shm, the adapters folder; through symlinks and `..` too), never
over an existing file without `--force`, and never leave half a file.

Real subprocesses of the CLI on a real data dir; after every refusal the library must still open
and hold every project, document and artifact it held before.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workbench.library import Library
from workbench.library.db import create_db_engine
from workbench.library.jobs_store import JobStore

ROOT = Path(__file__).resolve().parents[2]
SCENES = "screenplays/vilcans__screenplain/scene-numbers.fountain"
SRT = "transcripts/glut23__webvtt-py/sample.srt"


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def state(data_dir: Path) -> tuple:
    """Everything a user would miss: projects, documents with their text, artifacts, rows."""
    with Library.open(data_dir) as lib:
        docs = [(p.name, d.title, d.version, d.sha256, lib.text(d.id))
                for p in lib.list_projects() for d in lib.documents(p.name)]
        store = JobStore(create_db_engine(lib.db_path))
        arts = [a.text for p in lib.list_projects() for a in store.artifacts(p.id)]
        store.engine.dispose()
        return docs, arts, lib.count_rows()


@pytest.fixture(scope="module")
def library(tmp_path_factory, testdocs) -> Path:
    data_dir = tmp_path_factory.mktemp("writes") / "data"
    for name, doc in (("Night Shift", SCENES), ("Day Shift", SRT)):
        assert cli(data_dir, "new-project", name).returncode == 0
        out = cli(data_dir, "import", name, str(testdocs / doc))
        assert out.returncode == 0, out.stderr
    with Library.open(data_dir) as lib:
        store = JobStore(create_db_engine(lib.db_path))
        art = store.save_artifact(
            lib.get_project("Night Shift").id, None, task="free", title="Notes",
            backend="local", model="m", params={}, document_ids=[], strategy="whole",
            budget={"window": 8192, "reserved_output": 256}, text="Sc. 1 opens well.",
            prompt_tokens=10, completion_tokens=5, seconds=1.0, cost={}, citations=[])
        store.engine.dispose()
        assert art.id == 1
    (data_dir / "adapters" / "1" / "style").mkdir(parents=True)
    (data_dir / "adapters" / "1" / "style" / "adapter_config.json").write_text("{}")
    return data_dir


def _targets(data_dir: Path, tmp_path: Path) -> dict[str, Path]:
    link = tmp_path / "link-to-db"
    link.symlink_to(data_dir / "workbench.db")
    dir_link = tmp_path / "data-link"
    dir_link.symlink_to(data_dir, target_is_directory=True)
    return {
        "database": data_dir / "workbench.db",
        "wal": data_dir / "workbench.db-wal",
        "shm": data_dir / "workbench.db-shm",
        "dotted": data_dir / ".." / data_dir.name / "." / "workbench.db",
        "symlink to the db": link,
        "through a linked folder": dir_link / "workbench.db",
        "adapter file": data_dir / "adapters" / "1" / "style" / "adapter_config.json",
        "new file in adapters": data_dir / "adapters" / "1" / "new.zip",
    }


TARGETS = ("database", "wal", "shm", "dotted", "symlink to the db", "through a linked folder",
           "adapter file", "new file in adapters")


@pytest.mark.parametrize("command,target", [("export", t) for t in TARGETS] + [
    ("export-artifact", t) for t in ("database", "wal", "through a linked folder",
                                     "new file in adapters")])
def test_never_writes_over_the_library(library, tmp_path, command, target):
    path = _targets(library, tmp_path)[target]
    before = state(library)
    args = (["export", "Night Shift", str(path)] if command == "export"
            else ["export-artifact", "1", "--out", str(path)])
    for extra in ([], ["--force"]) if target == "database" else (["--force"],):
        out = cli(library, *args, *extra)  # refused even with --force
        assert out.returncode == 2, (out.stdout, out.stderr)
        assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr
        assert "library" in out.stderr, out.stderr
    assert state(library) == before
    assert not [p for p in library.rglob("*") if ".tmp" in p.name or "partial" in p.name]


def test_export_adapter_never_writes_over_the_library(library, tmp_path):
    before, targets = state(library), _targets(library, tmp_path)
    for target in ("database", "adapter file"):
        path = targets[target]
        out = cli(library, "export-adapter", "Night Shift", "style", str(path), "--force")
        assert out.returncode == 2 and "library's own files" in out.stderr, out.stderr
    assert state(library) == before


@pytest.mark.parametrize("command", ["export", "export-artifact"])
def test_existing_file_needs_force(library, tmp_path, command):
    path = tmp_path / "keep.out"
    path.write_bytes(b"precious")
    args = (["export", "Night Shift", str(path)] if command == "export"
            else ["export-artifact", "1", "--out", str(path)])
    out = cli(library, *args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "already exists" in out.stderr and "--force" in out.stderr
    assert path.read_bytes() == b"precious"
    out = cli(library, *args, "--force")
    assert out.returncode == 0, out.stderr
    if command == "export":
        assert zipfile.is_zipfile(path)
    else:
        assert "Sc. 1 opens well." in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.out"]  # no temp file left


def test_new_file_and_folder_target(library, tmp_path):
    out = cli(library, "export", "Night Shift", str(tmp_path / "sub" / "night.zip"))
    assert out.returncode == 0, out.stderr
    assert zipfile.is_zipfile(tmp_path / "sub" / "night.zip")
    out = cli(library, "export", "Night Shift", str(tmp_path))
    assert out.returncode == 2 and "folder" in out.stderr, out.stderr
    inside = library / "night.zip"  # beside the database, but not one of its files: allowed
    assert cli(library, "export", "Night Shift", str(inside)).returncode == 0
    inside.unlink()
