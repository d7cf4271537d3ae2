"""Writing the files a user names (export zips, artifacts) from the Python API: the library's
own files are never a target, an existing file only with overwrite=True, and a write that fails
half-way leaves the old file whole and no temp file behind."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from workbench.errors import OutputRefused
from workbench.library import Library
from workbench.library.outputs import atomic_output


@pytest.fixture
def database_url() -> None:
    """These tests guard the data dir's files, the SQLite database file among them."""
    return None


@pytest.fixture
def film(library: Library, kitchen) -> Library:
    library.create_project("Film")
    library.add_document("Film", kitchen, b"INT. KITCHEN - NIGHT\n", "kitchen.fountain")
    return library


def _intact(lib: Library) -> None:
    with Library.open(lib.data_dir) as again:
        assert [d.filename for d in again.documents("Film")] == ["kitchen.fountain"]


def test_hard_link_and_case_variants_of_the_database_are_refused(film, tmp_path):
    link = tmp_path / "hard.db"
    os.link(film.db_path, link)
    for target in (link, film.data_dir / "WORKBENCH.DB-WAL", film.data_dir / "workbench.db-journal",
                   film.data_dir / "adapters"):
        with pytest.raises(OutputRefused, match="library's own files"):
            film.export_project("Film", target, overwrite=True)
        with pytest.raises(OutputRefused, match="library's own files"):
            film.write_output(target, b"x", overwrite=True)
    assert link.read_bytes()[:16] == b"SQLite format 3\x00"
    _intact(film)


def test_existing_file_needs_overwrite(film, tmp_path):
    out = tmp_path / "film.zip"
    out.write_bytes(b"precious")
    with pytest.raises(OutputRefused, match="already exists; add --force"):
        film.export_project("Film", out)
    assert out.read_bytes() == b"precious"
    assert film.export_project("Film", out, overwrite=True) == out
    assert zipfile.is_zipfile(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "film.zip"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    out = tmp_path / "notes.md"
    out.write_bytes(b"old and whole")
    with pytest.raises(RuntimeError):
        with atomic_output(out, overwrite=True) as handle:
            handle.write(b"half of the new")
            raise RuntimeError("crash mid-write")
    assert out.read_bytes() == b"old and whole"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.md"]


def test_a_file_that_appears_during_the_write_is_not_clobbered(tmp_path):
    out = tmp_path / "race.zip"
    with pytest.raises(OutputRefused, match="already exists"):
        with atomic_output(out, overwrite=False) as handle:
            handle.write(b"ours")
            out.write_bytes(b"theirs")  # another process took the name meanwhile
    assert out.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["race.zip"]


def test_a_symlink_target_is_replaced_not_written_through(film, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    link = tmp_path / "out.md"
    link.symlink_to(victim)
    film.write_output(link, b"# notes\n", overwrite=True)
    assert victim.read_bytes() == b"keep me"
    assert not link.is_symlink() and link.read_bytes() == b"# notes\n"
