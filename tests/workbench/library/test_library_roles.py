"""A document's role changed after import, on a real SQLite library and a real screenplay: the
new role is stored, and a bad role changes nothing."""
from __future__ import annotations

import pytest

from workbench.errors import InvalidRole

BOB = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"


def test_role_is_editable_after_import_and_kept_by_new_versions(tmp_path, testdocs):
    from workbench.config import Settings
    from workbench.workbench import Workbench

    wb = Workbench(Settings(data_dir=tmp_path / "data", cache_dir=Settings().cache_dir))
    wb.new_project("p")
    doc = wb.import_files("p", [testdocs / BOB], role="draft")[0].document
    assert wb.set_role(doc.id, "style").role == "style"
    assert [d.role for d in wb.documents("p")] == ["style"]
    with pytest.raises(InvalidRole, match="choose one of draft, notes"):
        wb.set_role(doc.id, "villain")
    assert wb.document(doc.id).role == "style"
    reopened = Workbench(Settings(data_dir=tmp_path / "data", cache_dir=Settings().cache_dir))
    assert reopened.document(doc.id).role == "style"  # stored, not just returned
