"""`python -m workbench` as a user runs it: real subprocesses on real documents.

Expected figures were read off the files (../shared/testdocs): scene-numbers.fountain has five
scene headings; sample.srt five cues from 00:00:00,500 to 00:00:23,880; the Mercury-Redstone 3
log (mr3/ATG) 116 time stamps, one of them a `_note` (115 utterances, 00:00:00 to 00:15:17,
speakers CARDFILE CC ICC LCC P UNK); TestFDX-FD.fdx two scenes and four dialogue blocks by
DJ, DAVE, JIM (O.S.) and KAY; the Supreme Court transcript PDF one page.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workbench.library import Library

ROOT = Path(__file__).resolve().parents[2]
SCENES = "screenplays/vilcans__screenplain/scene-numbers.fountain"
SRT = "transcripts/glut23__webvtt-py/sample.srt"
ATG = "transcripts/Spacelog__Spacelog/mr3/ATG"
FDX = "screenplays/wildwinter__fountain-tools/TestFDX-FD.fdx"
PDF = "transcripts/jsvine__pdfplumber/scotus-transcript-p1.pdf"


def cli(data_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=clean)


def ok_json(out: subprocess.CompletedProcess):
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def rows(data_dir: Path) -> dict[str, int]:
    with Library.open(data_dir) as lib:
        return lib.count_rows()


@pytest.fixture(scope="module")
def library(tmp_path_factory, testdocs):
    data_dir = tmp_path_factory.mktemp("cli") / "data"
    created = ok_json(cli(data_dir, "new-project", "Night Shift", "--json"))
    assert created["name"] == "Night Shift"
    files = [str(testdocs / p) for p in (SCENES, SRT, ATG, FDX, PDF)]
    imported = ok_json(cli(data_dir, "import", "Night Shift", *files, "--role", "reference",
                           "--json"))
    assert [d["status"] for d in imported] == ["created"] * 5
    assert {d["role"] for d in imported} == {"reference"}
    return data_dir


def test_projects_lists_the_new_project(library):
    projects = ok_json(cli(library, "projects", "--json"))
    assert [(p["name"], p["documents"]) for p in projects] == [("Night Shift", 5)]


def test_show_json_has_the_design_shape_and_exact_stats(library):
    shown = ok_json(cli(library, "show", "Night Shift", "--json"))
    assert shown["project"] == "Night Shift"
    docs = shown["documents"]
    assert all(set(d) == {"id", "title", "kind", "format", "version", "tokens", "stats"}
               for d in docs)
    by_format = {d["format"]: d for d in docs}
    assert set(by_format) == {"fountain", "srt", "text", "fdx", "pdf"}
    assert by_format["fountain"]["kind"] == "screenplay"
    assert by_format["fountain"]["stats"]["scenes"] == 5
    srt = by_format["srt"]
    assert (srt["kind"], srt["stats"]["cues"]) == ("transcript", 5)
    assert srt["stats"]["duration_s"] == pytest.approx(23.38)
    atg = by_format["text"]["stats"]
    assert by_format["text"]["kind"] == "transcript"
    assert atg["cues"] == 115 and atg["duration_s"] == pytest.approx(917.0)
    assert atg["speakers"] == ["CARDFILE", "CC", "ICC", "LCC", "P", "UNK"]
    fdx = by_format["fdx"]["stats"]
    assert (fdx["scenes"], fdx["dialogue_blocks"]) == (2, 4)
    assert fdx["characters"] == ["DAVE", "DJ", "JIM", "KAY"]
    assert by_format["pdf"]["stats"]["pages"] == 1
    assert all(d["version"] == 1 for d in docs)


def test_token_counts_are_the_embedded_tokenizers(library, testdocs):
    from engine.tokens import TokenCounter
    from workbench.config import Settings
    from workbench.importers import parse_file

    shown = ok_json(cli(library, "show", "Night Shift", "--json"))
    counter = TokenCounter.for_embedded(Settings().cache_dir)
    for doc, path in zip(shown["documents"], (SCENES, SRT, ATG, FDX, PDF)):
        parsed = parse_file((testdocs / path).read_bytes(), Path(path).name)
        assert doc["tokens"] == counter.count(parsed.text) > 0


def test_show_text_summarises_each_document(library):
    out = cli(library, "show", "Night Shift")
    assert out.returncode == 0, out.stderr
    assert "5 scenes" in out.stdout and "115 cues" in out.stdout and "1 page" in out.stdout


def test_search_returns_anchors(library):
    hits = ok_json(cli(library, "search", "Night Shift", "Freedom", "--limit", "50", "--json"))
    assert len(hits) == 16 and {h["document_title"] for h in hits} == {"ATG"}
    assert {"00:00:25", "00:00:48", "00:03:40", "00:15:01"} <= {h["anchor"] for h in hits}
    assert all("Freedom" in h["snippet"] for h in hits)
    captions = ok_json(cli(library, "search", "Night Shift", "Caption", "--json"))
    assert sorted(h["anchor"] for h in captions) == [
        "00:00:00", "00:00:07", "00:00:11", "00:00:16", "00:00:21"]


def test_export_and_import_project_round_trip(library, tmp_path):
    archive = tmp_path / "night.zip"
    out = ok_json(cli(library, "export", "Night Shift", str(archive), "--json"))
    assert Path(out["path"]) == archive and zipfile.is_zipfile(archive)
    fresh = tmp_path / "fresh"
    restored = ok_json(cli(fresh, "import-project", str(archive), "--json"))
    assert (restored["name"], restored["documents"]) == ("Night Shift", 5)
    before = ok_json(cli(library, "show", "Night Shift", "--json"))["documents"]
    after = ok_json(cli(fresh, "show", "Night Shift", "--json"))["documents"]
    strip = [{k: v for k, v in d.items() if k != "id"} for d in before]
    assert strip == [{k: v for k, v in d.items() if k != "id"} for d in after]


def test_models_lists_the_embedded_default(library):
    models = ok_json(cli(library, "models", "--json"))
    default = [m for m in models if m["default"]]
    assert [m["name"] for m in default] == ["smollm2-135m-instruct"]
    assert default[0]["context_window"] == 8192


@pytest.mark.parametrize("case", [
    "empty", "encrypted", "junk", "duplicate", "good_and_bad", "missing", "too_large",
    "same_twice", "unknown_project", "bad_archive", "existing_project"])
def test_bad_input_exits_2_with_a_message_and_changes_nothing(library, testdocs, tmp_path,
                                                              case):
    junk = tmp_path / "junk.fountain"
    junk.write_bytes(bytes(range(256)) * 8)
    not_zip = tmp_path / "project.zip"
    not_zip.write_bytes(b"this is not a zip archive")
    cases = {
        "empty": (["import", "Night Shift", str(testdocs / "pdfs/jsvine__pdfplumber/empty.pdf")],
                  ["empty.pdf", "empty"]),
        "encrypted": (["import", "Night Shift",
                       str(testdocs / "pdfs/py-pdf__pypdf/encrypted-file.pdf")],
                      ["encrypted-file.pdf", "password"]),
        "junk": (["import", "Night Shift", str(junk)], ["junk.fountain"]),
        "duplicate": (["import", "Night Shift", str(testdocs / SRT)],
                      ["sample.srt", "already in the project"]),
        "good_and_bad": (["import", "Night Shift",
                          str(testdocs / "screenplays/vilcans__screenplain/simple.fountain"),
                          str(testdocs / "pdfs/jsvine__pdfplumber/empty.pdf")],
                         ["empty.pdf", "nothing was imported"]),
        "missing": (["import", "Night Shift", str(tmp_path / "nope.fountain")],
                    ["nope.fountain", "no such file"]),
        "too_large": (["import", "Night Shift", str(testdocs / "prose/jsvine__markovify/"
                                                            "sherlock.txt")],
                      ["sherlock.txt", "over the import limit"]),
        "same_twice": (["import", "Night Shift",
                        str(testdocs / "screenplays/vilcans__screenplain/simple.fountain"),
                        str(testdocs / "screenplays/vilcans__screenplain/simple.fountain")],
                       ["same content"]),
        "unknown_project": (["import", "Day Shift", str(testdocs / SCENES)], ["Day Shift"]),
        "bad_archive": (["import-project", str(not_zip)], ["project.zip"]),
        "existing_project": (["new-project", "Night Shift"], ["already exists"]),
    }
    args, expected = cases[case]
    before = rows(library)
    out = cli(library, *args, env={"LONGHAND_MAX_UPLOAD_BYTES": "100000"})
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    for text in expected:
        assert text.lower() in out.stderr.lower(), out.stderr
    assert rows(library) == before
