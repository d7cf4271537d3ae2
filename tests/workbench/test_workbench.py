"""The Workbench facade: all-or-nothing batches, versions, progress, and the show shape."""
from __future__ import annotations

import pytest

from workbench import Workbench
from workbench.errors import ImportRejected, ProjectNotFound, WorkbenchError

SIMPLE = "screenplays/vilcans__screenplain/simple.fountain"


@pytest.fixture
def wb(data_dir):
    bench = Workbench(data_dir=data_dir)
    bench.new_project("Drafts")
    return bench


def test_a_batch_with_one_bad_name_imports_nothing(wb, testdocs):
    good = (testdocs / SIMPLE).read_bytes()
    before = wb.count_rows()
    with pytest.raises(ImportRejected) as err:
        wb.import_files("Drafts", [("simple.fountain", good), ("../../etc/passwd", b"root:x")])
    assert len(err.value.problems) == 1 and "outside its folder" in str(err.value)
    assert wb.count_rows() == before and wb.documents("Drafts") == []


def test_progress_is_reported_per_file_then_done(wb, testdocs):
    seen = []
    items = [(testdocs / SIMPLE), (testdocs / "transcripts/glut23__webvtt-py/sample.vtt")]
    results = wb.import_files("Drafts", items, role="notes",
                              progress=lambda done, total, name: seen.append((done, total, name)))
    assert seen == [(0, 2, "simple.fountain"), (1, 2, "sample.vtt"), (2, 2, "")]
    assert [r.status for r in results] == ["created", "created"]
    assert {d.role for d in wb.documents("Drafts")} == {"notes"}


def test_a_changed_file_with_the_same_name_is_a_new_version(wb, testdocs):
    text = (testdocs / SIMPLE).read_bytes()
    first = wb.import_files("Drafts", [("simple.fountain", text)])[0]
    second = wb.import_files("Drafts", [("simple.fountain", text + b"\n\nEXT. ROOF - DAY\n")])[0]
    assert (first.status, second.status) == ("created", "new_version")
    assert second.document.id == first.document.id and second.document.version == 2
    assert second.document.stats["scenes"] == first.document.stats["scenes"] + 1
    back = wb.import_files("Drafts", [("simple.fountain", text)])[0]  # the old content again
    assert (back.status, back.restored_from, back.document.version) == ("restored", 1, 3)
    assert back.document.stats == first.document.stats
    with pytest.raises(ImportRejected, match="version 3, its latest"):
        wb.import_files("Drafts", [("simple.fountain", text)])
    shown = wb.show("Drafts")
    assert shown["project"] == "Drafts" and len(shown["documents"]) == 1
    assert shown["documents"][0]["version"] == 3 and shown["documents"][0]["tokens"] > 0
    assert [v.restored_from for v in wb.versions(first.document.id)] == [None, None, 1]


def test_a_role_per_file(wb, testdocs):
    items = [testdocs / SIMPLE, testdocs / "transcripts/glut23__webvtt-py/sample.vtt"]
    with pytest.raises(WorkbenchError, match="role 'sequel'"):
        wb.import_files("Drafts", items, roles={"sample.vtt": "sequel"})
    with pytest.raises(WorkbenchError, match="other.srt, which is not among"):
        wb.import_files("Drafts", items, roles={"other.srt": "reference"})
    assert wb.documents("Drafts") == []
    wb.import_files("Drafts", items, role="notes", roles={"sample.vtt": "reference"})
    assert {d.filename: d.role for d in wb.documents("Drafts")} == {
        "simple.fountain": "notes", "sample.vtt": "reference"}


def test_user_errors_are_workbench_errors(wb, testdocs):
    with pytest.raises(ProjectNotFound):
        wb.import_files("Nope", [testdocs / SIMPLE])
    with pytest.raises(WorkbenchError, match="role"):
        wb.import_files("Drafts", [testdocs / SIMPLE], role="sequel")
    with pytest.raises(WorkbenchError, match="no files"):
        wb.import_files("Drafts", [])
    with pytest.raises(WorkbenchError):
        wb.search("Drafts", "   ")


def test_import_workbench_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, workbench; from workbench import Workbench; "
            "print('torch' in sys.modules, 'gradio' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"], out.stderr
