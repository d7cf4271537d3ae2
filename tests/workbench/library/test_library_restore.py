"""Re-importing the bytes of an older version restores it as the newest version, on SQLite and
PostgreSQL (`library` runs each test on both): the latest text is the old one again, search
finds it once, the history shows where it came from, and no text or section is stored twice.
"""
from __future__ import annotations

import pytest

from workbench.errors import ImportRejected


def _two_versions(library, kitchen, make_screenplay):
    library.create_project("Film")
    doc = library.add_document("Film", kitchen, b"draft one", "kitchen.fountain").document
    revised = make_screenplay("Kitchen Sink II", [("INT. KITCHEN - DAWN", "MARA waits.")])
    library.add_document("Film", revised, b"draft two", "kitchen.fountain")
    return doc


def test_older_bytes_come_back_as_the_newest_version_stored_once(library, kitchen,
                                                                make_screenplay):
    doc = _two_versions(library, kitchen, make_screenplay)
    assert library.search("Film", "lemon") == []  # only the latest version is searched
    before = library.count_rows()
    result = library.add_documents("Film", [(kitchen, b"draft one", "kitchen.fountain",
                                             "reference", None)], new_only=True)[0]
    assert (result.status, result.restored_from) == ("restored", 1)
    assert (result.document.id, result.document.version) == (doc.id, 3)
    assert result.document.title == "Kitchen Sink" and result.document.role == "reference"

    after = library.count_rows()
    assert after["versions"] == before["versions"] + 1
    assert after["sections"] == before["sections"]  # no section stored twice
    assert after["sections_fts"] == before["sections_fts"]
    assert library.text(doc.id) == kitchen.text == library.text(doc.id, version=1)
    assert library.original_bytes(doc.id) == b"draft one"
    latest = library.sections(doc.id)
    assert [s.anchor for s in latest] == ["Sc. 1", "Sc. 2", "Sc. 3"]
    assert [s.id for s in latest] == [s.id for s in library.sections(doc.id, version=1)]
    assert library.section_by_anchor(doc.id, "Sc. 2").text.endswith("lemon tree.")

    hits = library.search("Film", "lemon")
    assert [(h.document_id, h.anchor) for h in hits] == [(doc.id, "Sc. 2")]
    assert library.search("Film", "DAWN") == []  # version 2 is no longer the latest
    history = library.versions(doc.id)
    assert [(v.version, v.restored_from) for v in history] == [(1, None), (2, None), (3, 1)]
    assert history[2].sha256 == history[0].sha256
    assert [d.version for d in library.documents("Film")] == [3]


def test_latest_bytes_stay_refused_and_a_failed_restore_changes_nothing(library, kitchen,
                                                                       make_screenplay):
    doc = _two_versions(library, kitchen, make_screenplay)
    library.add_document("Film", kitchen, b"draft one", "kitchen.fountain")  # v3 = v1
    before = library.count_rows()
    with pytest.raises(ImportRejected, match="version 3, its latest"):
        library.add_documents("Film", [(kitchen, b"draft one", "kitchen.fountain", None,
                                        None)], new_only=True)
    assert library.add_document("Film", kitchen, b"draft one", "x.fountain").status \
        == "duplicate"
    # Restoring version 2 alongside a new draft of the same document: refused whole.
    other = library.add_document("Film", kitchen, b"other", "other.fountain").document
    before = library.count_rows()
    with pytest.raises(ImportRejected, match="renamed.fountain in this batch holds an older "
                       "version of “kitchen.fountain”"):
        library.add_documents("Film", [
            (kitchen, b"fresh", "other.fountain", None, None),
            (kitchen, b"draft two", "renamed.fountain", None, None),
            (kitchen, b"draft four", "kitchen.fountain", None, None)], new_only=True)
    assert library.count_rows() == before
    assert [v.version for v in library.versions(doc.id)] == [1, 2, 3]
    assert library.document(other.id).version == 1
    # A restore of a restore points at the row that holds the content.
    again = library.add_document("Film", kitchen, b"draft two", "kitchen.fountain")
    assert (again.status, again.restored_from, again.document.version) == ("restored", 2, 4)
    back = library.add_document("Film", kitchen, b"draft one", "kitchen.fountain")
    assert (back.status, back.restored_from, back.document.version) == ("restored", 1, 5)
    assert library.text(doc.id) == kitchen.text


def test_a_restored_version_survives_export_and_import(library, kitchen, make_screenplay,
                                                       tmp_path):
    doc = _two_versions(library, kitchen, make_screenplay)
    library.add_document("Film", kitchen, b"draft one", "kitchen.fountain")
    out = library.export_project("Film", tmp_path / "film.zip")

    def derive(filename, data):
        from types import SimpleNamespace
        parsed = kitchen if data == b"draft one" else make_screenplay(
            "Kitchen Sink II", [("INT. KITCHEN - DAWN", "MARA waits.")])
        return SimpleNamespace(filename=filename, parsed=parsed, tokens=None)

    before = library.count_rows()
    copy = library.import_project(out, derive, name="Copy")
    copied = library.documents(copy.id)[0]
    assert copied.version == 3 and library.text(copied.id) == kitchen.text
    assert [v.restored_from for v in library.versions(copied.id)] == [None, None, 1]
    after = library.count_rows()
    assert after["sections"] - before["sections"] == 3 + 1  # v1 and v2, once each
    assert library.versions(doc.id)[2].restored_from == 1
    from workbench.library import Library
    with Library.open(tmp_path / "other") as other:  # the same name: the same zip again
        other.import_project(out, derive)
        again = other.export_project("Film", tmp_path / "again.zip")
    assert again.read_bytes() == out.read_bytes()
