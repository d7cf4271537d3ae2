"""`python -m workbench import-project` on hostile zips crafted here, as a user runs it: a clear
`error: ...` and exit 2 with no row and no file written, or (for a tampered manifest) the
project re-derived from its originals; `--name` imports a second copy beside the first."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workbench.library import Library

ROOT = Path(__file__).resolve().parents[3]
DATE = "2026-01-02T03:04:05+00:00"
NOTES = b"Notes\n\nThe lemon tree hides the key. MARA knows.\n"


def cli(data_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=clean)


def archive(path: Path, original: bytes = NOTES, manifest_text: str | None = None,
            **version) -> Path:
    """A project zip in our format with one note; `version` overrides the manifest's fields."""
    manifest = {"format": "longhand-project", "format_version": 1,
                "project": {"name": "Garden", "created_at": DATE}, "documents": [{
                    "filename": "notes.txt", "title": "t", "kind": "notes", "format": "text",
                    "role": "notes", "created_at": DATE, "versions": [{
                        "version": 1, "title": "t", "kind": "notes", "format": "text",
                        "sha256": hashlib.sha256(original).hexdigest(),
                        "size_bytes": len(original), "original": "originals/0000/v1/notes.txt",
                        "text": "", "stats": {}, "metadata": {}, "tokens": 1,
                        "imported_at": DATE, "sections": [], **version}]}]}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("originals/0000/v1/notes.txt", original)
        zf.writestr("project.json", manifest_text or json.dumps(manifest))
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("archive-cli") / "data"
    assert cli(d, "new-project", "Existing").returncode == 0
    return d


def _state(data_dir: Path) -> tuple:
    with Library.open(data_dir) as lib:
        rows = lib.count_rows()
    return rows, sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*")
                        if not p.name.endswith(("-wal", "-shm")))


def _deep(tmp: Path) -> Path:
    return archive(tmp / "in.zip", manifest_text=(
        '{"format": "longhand-project", "format_version": 1, "project": {"name": "Garden", '
        '"created_at": "%s"}, "documents": %s}' % (DATE, "[" * 100_000 + "]" * 100_000)))


def _surrogate(tmp: Path) -> Path:  # a file name json.dumps would never write
    with zipfile.ZipFile(archive(tmp / "plain.zip")) as zf:
        text = zf.read("project.json").decode().replace('"notes.txt"', '"\\ud800.txt"')
    return archive(tmp / "in.zip", manifest_text=text)


CASES = {
    "deep JSON": (_deep, "nested too deeply"),
    "lone surrogate": (_surrogate, "not valid unicode"),
    "huge integer": (lambda tmp: archive(tmp / "in.zip", version=10 ** 30), "out of range"),
    "oversize original": (lambda tmp: archive(tmp / "in.zip",
                                              original=b"The lemon tree. " * 10_000),
                          "over the import limit"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_archive_exits_2_and_writes_nothing(data_dir, tmp_path, case):
    make, expected = CASES[case]
    path = make(tmp_path)
    before = _state(data_dir)
    out = cli(data_dir, "import-project", str(path), env={"LONGHAND_MAX_UPLOAD_BYTES": "100000"})
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    assert expected in out.stderr.lower(), out.stderr
    assert _state(data_dir) == before


def test_tampered_manifest_is_re_derived_and_name_picks_a_copy(data_dir, tmp_path):
    forged = archive(tmp_path / "forged.zip", text="FORGEDWORD", tokens=-5,
                     stats={"scenes": 999}, kind="screenplay",
                     sections=[{"ordinal": 0, "kind": "scene", "anchor": "Sc. 1",
                                "text": "FORGEDWORD", "heading": None, "number": None,
                                "start_s": None, "end_s": None, "speaker": None,
                                "page": None, "meta": {}}])
    out = cli(data_dir, "import-project", str(forged), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["name"] == "Garden"
    shown = json.loads(cli(data_dir, "show", "Garden", "--json").stdout)["documents"]
    assert [(d["kind"], d["title"]) for d in shown] == [("notes", "notes")]  # not the zip's "t"
    assert shown[0]["tokens"] > 0 and "scenes" not in shown[0]["stats"]
    assert json.loads(cli(data_dir, "search", "Garden", "FORGEDWORD", "--json").stdout) == []
    assert json.loads(cli(data_dir, "search", "Garden", "lemon", "--json").stdout)
    again = cli(data_dir, "import-project", str(forged))
    assert again.returncode == 2 and "already exists" in again.stderr
    copy = cli(data_dir, "import-project", str(forged), "--name", "Garden copy", "--json")
    assert copy.returncode == 0 and json.loads(copy.stdout)["name"] == "Garden copy"
