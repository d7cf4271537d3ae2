"""Batch imports are one transaction; a crash or a failing item leaves no rows; threads share
one Library safely."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from workbench.errors import ImportRejected, ProjectExists, UnsupportedDocument
from workbench.importers.base import Section
from workbench.library import Library

ROOT = Path(__file__).resolve().parents[3]


def test_batch_is_all_or_nothing_when_second_item_violates_a_constraint(library, kitchen,
                                                                       make_screenplay):
    library.create_project("Film")
    library.add_document("Film", kitchen, b"existing", "old.fountain")
    before = library.count_rows()
    broken = make_screenplay("Broken", [("INT. A", "one"), ("INT. B", "two")])
    broken.sections[1].ordinal = 0  # two sections at one position: UNIQUE fails mid-insert
    third = make_screenplay("Third", [("INT. C", "three")])
    with pytest.raises(UnsupportedDocument, match="broken.fountain"):
        library.add_documents("Film", [(kitchen, b"new one", "first.fountain", "draft", 10),
                                       (broken, b"broken", "broken.fountain", None, None),
                                       (third, b"third", "third.fountain", "notes", None)])
    assert library.count_rows() == before
    assert [d.filename for d in library.documents("Film")] == ["old.fountain"]
    # The same batch without the broken item goes in whole.
    results = library.add_documents("Film", [(kitchen, b"new one", "first.fountain", "draft", 10),
                                             (third, b"third", "third.fountain", "notes", None)])
    assert [r.status for r in results] == ["created", "created"]
    assert library.count_rows()["documents"] == before["documents"] + 2


def test_empty_anchor_is_refused_by_the_database(library, kitchen, make_screenplay):
    library.create_project("Film")
    before = library.count_rows()
    bad = make_screenplay("Bad", [("INT. A", "one")])
    bad.sections.append(Section(kind="paragraph", anchor="", ordinal=1, text="x"))
    with pytest.raises(UnsupportedDocument, match="nothing of this batch"):
        library.add_documents("Film", [(kitchen, b"k", "k.fountain", None, None),
                                       (bad, b"bad", "bad.txt", None, None)])
    assert library.count_rows() == before


def test_batch_dedups_within_itself_and_refuses_two_files_under_one_name(library, kitchen,
                                                                       make_screenplay):
    library.create_project("Film")
    results = library.add_documents("Film", [(kitchen, b"one", "k.fountain", None, None),
                                             (kitchen, b"one", "copy.fountain", None, None)])
    assert [(r.status, r.document.version) for r in results] == [
        ("created", 1), ("duplicate", 1)]
    before = library.count_rows()
    v2 = make_screenplay("K2", [("INT. B", "two")])
    # A second file under a known name in one batch would silently become version 2 of the
    # first, which then vanishes from `show` and search: the batch is refused instead.
    with pytest.raises(ImportRejected, match="same name “n.fountain”") as refused:
        library.add_documents("Film", [(kitchen, b"new", "n.fountain", None, None),
                                       (v2, b"two", "n.fountain", None, None)])
    assert [p.filename for p in refused.value.problems] == ["n.fountain"]
    assert library.count_rows() == before


def test_process_killed_mid_import_leaves_no_rows(data_dir, kitchen):
    with Library.open(data_dir) as lib:
        lib.create_project("Film")
        lib.add_document("Film", kitchen, b"kept", "kept.fountain")
        before = lib.count_rows()
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from workbench.importers.base import ParsedDocument, Section
        from workbench.library import Library
        lib = Library.open(Path({str(data_dir)!r}))
        doc = ParsedDocument("T", "notes", "text", "t",
                             [Section("paragraph", "¶ 1", 0, "t")], {{}})
        original = lib._store
        def store_then_die(s, *args):
            result = original(s, *args)
            s.flush()
            os._exit(9)  # the process dies with the transaction open
        lib._store = store_then_die
        lib.add_documents("Film", [(doc, b"doomed", "doomed.txt", None, None)])
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    with Library.open(data_dir) as lib:
        assert lib.count_rows() == before
        with lib.reading() as s:
            assert s.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            # FTS5 raises if its index disagrees with the sections table.
            s.connection().exec_driver_sql(
                "INSERT INTO sections_fts(sections_fts) VALUES ('integrity-check')")


def test_concurrent_writes_and_reads_from_threads(library, make_screenplay):
    library.create_project("Film")
    errors: list[BaseException] = []
    writers, per_writer = 4, 6

    def write(n: int) -> None:
        try:
            for i in range(per_writer):
                doc = make_screenplay(f"W{n} D{i}", [("INT. ROOM", f"WRITER{n} line {i} echo")])
                library.add_document("Film", doc, f"{n}-{i}".encode(), f"w{n}-{i}.fountain")
        except BaseException as err:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(err)

    def read() -> None:
        try:
            for _ in range(20):
                library.search("Film", "echo")
                library.documents("Film")
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(library.documents("Film")) == writers * per_writer
    assert len(library.search("Film", "echo", limit=100)) == writers * per_writer


def test_racing_project_creation_yields_one_project(library):
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def create() -> None:
        barrier.wait()
        try:
            library.create_project("Race")
            outcomes.append("created")
        except ProjectExists:
            outcomes.append("exists")

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["created"] + ["exists"] * 5
    assert library.count_rows()["projects"] == 1
