"""Projects, documents, versions and sections on a real SQLite file."""
from __future__ import annotations

import dataclasses
import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from workbench.errors import (DocumentNotFound, InvalidProjectName, InvalidRole, ProjectExists,
                              ProjectNotFound, UnsupportedDocument)
from workbench.library import Library
from workbench.library.models import Base, include_name, load_model_modules


def test_open_creates_database_in_wal_with_foreign_keys(tmp_path):
    data = tmp_path / "nested" / "data"
    lib = Library.open(data)
    try:
        assert (data / "workbench.db").is_file()
        with lib.reading() as s:
            conn = s.connection()
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        assert version is not None
    finally:
        lib.close()
    raw = sqlite3.connect(data / "workbench.db")  # WAL is persistent in the file itself
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_reopen_keeps_data_and_migrates_idempotently(data_dir, kitchen):
    with Library.open(data_dir) as lib:
        lib.create_project("Film")
        lib.add_document("Film", kitchen, b"v1 bytes", "kitchen.fountain")
    with Library.open(data_dir) as lib:
        assert [d.filename for d in lib.documents("Film")] == ["kitchen.fountain"]


def test_models_match_migrations(library):
    """The ORM models and the migrated schema agree (FTS tables are raw SQL, excluded)."""
    load_model_modules()
    with library.reading() as s:
        ctx = MigrationContext.configure(s.connection(), opts={
            "include_name": include_name, "compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_projects_create_list_get_delete(library):
    film = library.create_project("  Night Film ")
    assert film.name == "Night Film" and film.created_at.tzinfo is not None
    library.create_project("Another")
    assert [p.name for p in library.list_projects()] == ["Another", "Night Film"]
    assert library.get_project("night film").id == film.id
    assert library.get_project(film.id).name == "Night Film"
    assert library.get_project(str(film.id)).name == "Night Film"
    with pytest.raises(ProjectExists):
        library.create_project("NIGHT FILM")
    library.delete_project("Night Film")
    with pytest.raises(ProjectNotFound):
        library.get_project("Night Film")
    with pytest.raises(ProjectNotFound):
        library.delete_project(12345)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "bad\nname", "tab\there"])
def test_invalid_project_names_are_refused(library, name):
    with pytest.raises(InvalidProjectName):
        library.create_project(name)
    assert library.count_rows()["projects"] == 0


def test_created_duplicate_and_new_version(library, kitchen, make_screenplay):
    library.create_project("Film")
    first = library.add_document("Film", kitchen, b"draft one", "kitchen.fountain", tokens=42)
    assert first.status == "created"
    doc = first.document
    assert (doc.version, doc.role, doc.tokens, doc.kind) == (1, "draft", 42, "screenplay")
    assert doc.stats["scenes"] == 3 and doc.metadata["title_page"]["Title"] == "Kitchen Sink"

    before = library.count_rows()
    again = library.add_document("Film", kitchen, b"draft one", "renamed.fountain")
    assert again.status == "duplicate" and again.document.id == doc.id
    assert library.count_rows() == before

    revised = make_screenplay("Kitchen Sink II", [("INT. KITCHEN - DAWN", "MARA waits.")])
    second = library.add_document("Film", revised, b"draft two", "kitchen.fountain")
    assert second.status == "new_version"
    assert (second.document.id, second.document.version) == (doc.id, 2)
    assert second.document.title == "Kitchen Sink II" and second.document.role == "draft"

    assert [v.version for v in library.versions(doc.id)] == [1, 2]
    assert [v.tokens for v in library.versions(doc.id)] == [42, None]
    assert library.original_bytes(doc.id) == b"draft two"
    assert library.original_bytes(doc.id, version=1) == b"draft one"
    assert [s.anchor for s in library.sections(doc.id, version=1)] == ["Sc. 1", "Sc. 2", "Sc. 3"]
    assert [s.heading for s in library.sections(doc.id)] == ["INT. KITCHEN - DAWN"]
    assert library.text(doc.id, version=1) == kitchen.text
    # Reverting to old bytes restores version 1 as a third version (test_library_restore.py).
    back = library.add_document("Film", kitchen, b"draft one", "kitchen.fountain")
    assert (back.status, back.restored_from, back.document.version) == ("restored", 1, 3)
    assert len(library.documents("Film")) == 1


def test_same_bytes_in_two_projects_are_independent(library, kitchen):
    library.create_project("A")
    library.create_project("B")
    a = library.add_document("A", kitchen, b"same", "k.fountain")
    b = library.add_document("B", kitchen, b"same", "k.fountain")
    assert a.status == b.status == "created" and a.document.id != b.document.id


def test_roles_and_kinds_are_validated(library, kitchen):
    library.create_project("Film")
    before = library.count_rows()
    with pytest.raises(InvalidRole, match="draft, notes, reference, style"):
        library.add_document("Film", kitchen, b"x", "k.fountain", role="villain")
    bad_kind = dataclasses.replace(kitchen, kind="poem")
    with pytest.raises(UnsupportedDocument, match="poem"):
        library.add_document("Film", bad_kind, b"x", "k.fountain")
    assert library.count_rows() == before


def test_role_kept_on_new_version_unless_given(library, kitchen, make_screenplay):
    library.create_project("Film")
    doc = library.add_document("Film", kitchen, b"1", "k.fountain", role="style").document
    v2 = make_screenplay("K", [("INT. A", "B")])
    assert library.add_document("Film", v2, b"2", "k.fountain").document.role == "style"
    v3 = make_screenplay("K", [("INT. C", "D")])
    assert library.add_document("Film", v3, b"3", "k.fountain", role="reference") \
        .document.role == "reference"
    assert library.document(doc.id).role == "reference"


def test_transcript_sections_and_anchor_lookup(library, make_transcript):
    library.create_project("Docu")
    parsed = make_transcript("Interview", [(0.0, 2.5, "ANA", "We left at dawn."),
                                           (3.0, 7.25, "BEN", "The river was high."),
                                           (3725.5, 3730.0, "ANA", "Then the bridge.")])
    doc = library.add_document("Docu", parsed, b"1\n00:00...", "interview.srt",
                               role="reference").document
    cue = library.section_by_anchor(doc.id, "01:02:05")
    assert cue is not None
    assert (cue.speaker, cue.start_s, cue.end_s, cue.text) == ("ANA", 3725.5, 3730.0,
                                                              "Then the bridge.")
    assert cue.document_id == doc.id and cue.version_id == doc.version_id
    assert library.section_by_anchor(doc.id, "09:09:09") is None
    assert library.document(doc.id).stats["speakers"] == ["ANA", "BEN"]


def test_delete_document_cascades_to_sections_and_index(library, kitchen):
    library.create_project("Film")
    doc = library.add_document("Film", kitchen, b"1", "k.fountain").document
    assert library.count_rows()["sections_fts"] == 3
    library.delete_document(doc.id)
    counts = library.count_rows()
    assert (counts["documents"], counts["versions"], counts["sections"],
            counts["sections_fts"]) == (0, 0, 0, 0)
    assert library.search("Film", "fridge") == []
    with pytest.raises(DocumentNotFound):
        library.document(doc.id)
    with pytest.raises(DocumentNotFound):
        library.delete_document(doc.id)


def test_delete_project_cascades(library, kitchen):
    library.create_project("Film")
    library.add_document("Film", kitchen, b"1", "k.fountain")
    library.delete_project("Film")
    assert all(n == 0 for n in library.count_rows().values())


def test_missing_document_and_version(library, kitchen):
    library.create_project("Film")
    doc = library.add_document("Film", kitchen, b"1", "k.fountain").document
    with pytest.raises(DocumentNotFound):
        library.sections(doc.id, version=7)
    with pytest.raises(DocumentNotFound):
        library.original_bytes(999)
    with pytest.raises(ProjectNotFound):
        library.add_document("Nope", kitchen, b"2", "k.fountain")
