"""`python -m workbench import` in a real subprocess: a role per file (`--role-for`), and the
bytes of an older version brought back as the newest one ("restored v1 as v3")."""
from __future__ import annotations

import shutil

from tests.workbench.test_cli import cli, ok_json, rows

SCREENPLAIN = "screenplays/vilcans__screenplain"
SRT = "transcripts/glut23__webvtt-py/sample.srt"


def test_roles_per_file_and_restoring_an_older_version(tmp_path, testdocs):
    data = tmp_path / "data"
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    shutil.copy(testdocs / SCREENPLAIN / "simple.fountain", one / "draft.fountain")
    shutil.copy(testdocs / SCREENPLAIN / "scene-numbers.fountain", two / "draft.fountain")
    assert cli(data, "new-project", "P").returncode == 0

    bad = cli(data, "import", "P", str(one / "draft.fountain"),
              "--role-for", "nope.srt=reference")
    assert bad.returncode == 2 and "nope.srt" in bad.stderr and "not among" in bad.stderr
    villain = cli(data, "import", "P", str(one / "draft.fountain"),
                  "--role-for", "draft.fountain=villain")
    assert villain.returncode == 2 and "unknown role 'villain'" in villain.stderr
    assert rows(data)["documents"] == 0

    first = ok_json(cli(data, "import", "P", str(one / "draft.fountain"), str(testdocs / SRT),
                        "--role", "notes", "--role-for", f"{testdocs / SRT}=reference",
                        "--json"))
    assert [(d["filename"], d["role"], d["status"], d["restored_from"]) for d in first] == [
        ("draft.fountain", "notes", "created", None), ("sample.srt", "reference", "created",
                                                       None)]
    second = ok_json(cli(data, "import", "P", str(two / "draft.fountain"), "--json"))
    assert [(d["status"], d["version"]) for d in second] == [("new_version", 2)]

    back = cli(data, "import", "P", str(one / "draft.fountain"))
    assert back.returncode == 0, back.stderr
    assert back.stdout.startswith("restored: ") and "restored v1 as v3" in back.stdout
    shown = ok_json(cli(data, "show", "P", "--json"))["documents"]
    assert [(d["title"], d["version"]) for d in shown][0] == (first[0]["title"], 3)
    before = rows(data)
    again = cli(data, "import", "P", str(one / "draft.fountain"), "--json")
    assert again.returncode == 2 and "version 3, its latest" in again.stderr
    assert rows(data) == before
    v2 = ok_json(cli(data, "import", "P", str(two / "draft.fountain"), "--json"))
    assert [(d["status"], d["restored_from"], d["version"]) for d in v2] == [
        ("restored", 2, 4)]
