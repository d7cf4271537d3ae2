"""parse_file: sniffing by content, size limits, file names, bad bytes; every testdoc."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import UnsupportedDocument
from workbench.importers import (SUPPORTED_SUFFIXES, importer_for, parse_file, safe_filename,
                                 subtitles, text)
from workbench.importers.base import KINDS, ParsedDocument

FOUNTAIN = "screenplays/vilcans__screenplain/simple.fountain"


@pytest.mark.parametrize("rel, kind, fmt", [
    ("screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain", "screenplay",
     "fountain"),
    ("screenplays/wildwinter__fountain-tools/TestFDX-FD.fdx", "screenplay", "fdx"),
    ("transcripts/glut23__webvtt-py/sample.srt", "transcript", "srt"),
    ("transcripts/glut23__webvtt-py/sample.vtt", "transcript", "vtt"),
    ("transcripts/Spacelog__Spacelog/mr3/ATG", "transcript", "text"),
    ("prose/jsvine__markovify/sherlock.txt", "prose", "text"),
    ("pdfs/allenai__s2orc-doc2json/2020.acl-main.207.pdf", "paper", "pdf"),
])
def test_dispatch_by_content(testdocs, rel, kind, fmt):
    path = testdocs / rel
    doc = parse_file(path.read_bytes(), path.name)
    assert (doc.kind, doc.format) == (kind, fmt)


def test_misnamed_files_are_recognised_by_content(testdocs):
    fountain_bytes = (testdocs / FOUNTAIN).read_bytes()
    assert parse_file(fountain_bytes, "draft.txt").format == "fountain"
    srt = (testdocs / "transcripts/glut23__webvtt-py/sample.srt").read_bytes()
    assert parse_file(srt, "captions.txt").format == "srt"
    paper = (testdocs / "pdfs/py-pdf__pypdf/issue-297.pdf").read_bytes()
    assert parse_file(paper, "report.docx").format == "pdf"
    assert importer_for(b"plain words", "notes") is text
    assert importer_for(srt, "x") is subtitles


def test_every_readable_testdoc_gives_consistent_stats(testdocs):
    refused = {"empty.pdf", "encrypted-file.pdf", "issue-3850-1bit-indexed-flate.pdf",
               "malformed-from-issue-932.pdf", "issue-301.pdf"}
    seen = 0
    for path in sorted(p for p in testdocs.rglob("*") if p.is_file()):
        if "LICENSES" in path.parts or path.name == "MANIFEST.md":
            continue
        if path.name in refused:
            with pytest.raises(UnsupportedDocument):
                parse_file(path.read_bytes(), path.name)
            continue
        doc = parse_file(path.read_bytes(), path.name)
        seen += 1
        assert doc.kind in KINDS and doc.text.strip() and doc.sections
        assert [s.ordinal for s in doc.sections] == list(range(len(doc.sections)))
        assert doc.stats["words"] == len(doc.text.split())
        if "characters" in doc.stats:
            assert doc.stats["characters"] == sorted(set(doc.stats["characters"]))
        if "cues" in doc.stats:
            assert doc.stats["cues"] == len(doc.sections)
    assert seen == 37  # 42 documents in testdocs, 5 of them refusals


@pytest.mark.parametrize("data, name, message", [
    (b"", "empty.fountain", "empty"),
    (random.Random(0).randbytes(4096), "run.py", "not text"),
    (bytes(range(256)) * 20, "evil.fountain", "binary"),
    (bytes(range(256)) * 20, "evil.sh", "cannot read this kind of file"),
    (b"\x7fELF\x02\x01\x01" + bytes(200), "tool", "cannot read this kind of file"),
])
def test_bad_bytes_get_specific_messages(data, name, message):
    with pytest.raises(UnsupportedDocument, match=message):
        parse_file(data, name)


def test_size_limit_is_checked_before_parsing(testdocs):
    data = (testdocs / FOUNTAIN).read_bytes()
    with pytest.raises(UnsupportedDocument, match="197 bytes, over the import limit of 100 bytes"):
        parse_file(data, "simple.fountain", max_bytes=100)
    assert parse_file(data, "simple.fountain", max_bytes=len(data)).stats["scenes"] == 1


def test_invalid_utf8_and_legacy_encodings_never_crash():
    latin = "Le café était fermé. Élodie a acheté des crêpes près de l'église.\n"
    assert parse_file(latin.encode("cp1252"), "notes.txt").text == latin.strip()
    assert parse_file(latin.encode("utf-16"), "notes.txt").text == latin.strip()
    mostly_utf8 = "Grüße, Anna.".encode() + b" \xff\xfe broken \xc3\x28 bytes\n"
    doc = parse_file(mostly_utf8, "notes.txt")
    assert doc.text.startswith("Grüße, Anna.") and "broken" in doc.text


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\boot.ini", "a/../../b.txt",
                                  "draft\x00.fountain", "x" * 300 + ".txt", "", "/", "..",
                                  "bell\x07.txt"])
def test_unsafe_names_are_refused(name):
    with pytest.raises(UnsupportedDocument):
        safe_filename(name)
    with pytest.raises(UnsupportedDocument):
        parse_file(b"hello", name)


@pytest.mark.parametrize("name, base", [
    ("C:\\Users\\me\\draft.fountain", "draft.fountain"),
    ("/tmp/gradio/abc123/Interview 3.srt", "Interview 3.srt"),
    ("Notes – café.md", "Notes – café.md"),
    ("TEC", "TEC"),
])
def test_paths_become_base_names(name, base):
    assert safe_filename(name) == base


def test_supported_suffixes_for_the_file_picker():
    for suffix in (".fountain", ".fdx", ".pdf", ".srt", ".vtt", ".txt", ".md", ".docx"):
        assert suffix in SUPPORTED_SUFFIXES
    assert all(s.startswith(".") and s == s.lower() for s in SUPPORTED_SUFFIXES)


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=3000),
       st.sampled_from(["a.fountain", "a.fdx", "a.pdf", "a.srt", "a.vtt", "a.txt", "a.md",
                        "a.docx", "a.exe", "noext"]))
def test_fuzz_parse_file_only_raises_unsupported(data, name):
    try:
        doc = parse_file(data, name)
    except UnsupportedDocument:
        return
    assert isinstance(doc, ParsedDocument) and doc.kind in KINDS


def test_anchors_are_unique_for_every_format():
    srt = (b"1\n00:00:01,000 --> 00:00:01,400\nAnna: Now?\n\n"
           b"2\n00:00:01,500 --> 00:00:02,000\nTom: Now.\n\n"
           b"3\n00:00:01,700 --> 00:00:03,000\nAnna: Go!\n")
    doc = parse_file(srt, "overlap.srt")
    assert [s.anchor for s in doc.sections] == ["00:00:01", "00:00:01 (2)", "00:00:01 (3)"]
    fountain = (b"INT. KITCHEN - NIGHT #2#\n\nRain.\n\nANNA\nHello?\n\n"
                b"EXT. PIER - DAWN #2#\n\nFog.\n\nTOM\nNobody.\n")
    doc = parse_file(fountain, "twice.fountain")
    assert [s.anchor for s in doc.sections] == ["Sc. 2", "Sc. 2 (2)"]
