"""The reliability probe for bad input, kept as a test: every importer, fuzzed through the real
Workbench.import_files on a real SQLite data dir.

Each case is a real test document (or a .docx built from one) mutated the ways damaged files
arrive: flipped bytes, a truncated download, junk spliced in, re-encoded to UTF-16/32 or a
legacy code page, and now and then a hostile character in the name. Every case must either
import (then the stored sections match the parse, anchors are unique and the document is
deleted again) or be refused with ImportRejected, with not one row written. Any other
exception is a traceback a user would have seen, and fails the test with the case shrunk.

Runs are derandomized, so the figures reproduce: `-s` prints them per importer.
The per-importer `st.binary` fuzz tests in the other files drive `parse` alone; this one drives
the product path (names, decoding, tokenizer, library, transaction) end to end.
"""
from __future__ import annotations

import io
from collections import Counter

import pytest
from docx import Document
from embedded_cache import shared_cache_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import Workbench
from workbench.errors import ImportRejected

SP = "screenplays/"
TR = "transcripts/"
SEEDS = {
    "pdf": ["pdfs/py-pdf__pypdf/issue-297.pdf", "pdfs/py-pdf__pypdf/encrypted-file.pdf",
            "pdfs/py-pdf__pypdf/r6-owner-password.pdf",
            TR + "jsvine__pdfplumber/scotus-transcript-p1.pdf"],
    "fdx": [SP + "vilcans__screenplain/simple.fdx", SP + "vilcans__screenplain/dual-dialogue.fdx",
            SP + "vilcans__screenplain/extended-characters.fdx",
            SP + "wildwinter__fountain-tools/TestFDX-FD.fdx"],
    "subtitles": [TR + "glut23__webvtt-py/sample.srt", TR + "glut23__webvtt-py/sample.vtt",
                  TR + "glut23__webvtt-py/comments.vtt",
                  TR + "mantas-done__subtitles/vtt_with_styles.vtt"],
    "fountain": [SP + "earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain",
                 SP + "vilcans__screenplain/scene-numbers.fountain",
                 SP + "vilcans__screenplain/notes.fountain",
                 SP + "vilcans__screenplain/utf-8-bom.fountain"],
    "text": [TR + "Spacelog__Spacelog/mr3/ATG", TR + "Spacelog__Spacelog/mr3/PAO",
             "prose/jsvine__markovify/sherlock.txt"],
}
CODECS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "latin-1", "cp1252"]
ODD_NAME_CHARS = ["\u202e", "\u200b", "\u200d", "\u2060", "\ufeff", "\x00", "\x1b", "\n",
                  "\udcff", "/", "\\", "..", "é", "漢"]
SUFFIXES = [".pdf", ".docx", ".fdx", ".srt", ".vtt", ".fountain", ".txt", ".md", ""]
FIGURES: dict[str, Counter] = {}


def _docx_from(lines: list[str]) -> bytes:
    document = Document()
    for line in lines:
        document.add_paragraph(line)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _seeds(testdocs, kind: str) -> list[tuple[str, bytes]]:
    if kind == "docx":  # no .docx among the testdocs: Word files typed from two of them
        bob = (testdocs / SEEDS["fountain"][0]).read_text(encoding="utf-8").splitlines()
        sherlock = (testdocs / SEEDS["text"][2]).read_text(encoding="utf-8-sig")
        return [("Cyber_Bob.docx", _docx_from([ln for ln in bob if ln.strip()][:120])),
                ("sherlock.docx", _docx_from(sherlock[:20_000].split("\n\n")))]
    out = []
    for rel in SEEDS[kind]:
        data = (testdocs / rel).read_bytes()
        out.append((rel.rsplit("/", 1)[-1], data[:24_000] if len(data) > 60_000 else data))
    return out


@st.composite
def mutated(draw, seeds: list[tuple[str, bytes]]) -> tuple[str, bytes, str]:
    name, data = draw(st.sampled_from(seeds))
    how = draw(st.sampled_from(["flip", "truncate", "splice", "reencode", "reencode+flip"]))
    if how.startswith("reencode"):
        codec = draw(st.sampled_from(CODECS))
        data = data.decode("utf-8", "replace").encode(codec, "replace")
    if how.endswith("flip") and data:
        buf = bytearray(data)
        for pos, mask in draw(st.lists(st.tuples(st.integers(0, len(buf) - 1),
                                                 st.integers(1, 255)), min_size=1, max_size=24)):
            buf[pos] ^= mask
        data = bytes(buf)
    elif how == "truncate":
        data = data[:draw(st.integers(0, len(data)))]
    elif how == "splice":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=512)) + data[at:]
    stem = name.rsplit(".", 1)[0]
    renamed = draw(st.sampled_from(["keep", "keep", "keep", "suffix", "odd"]))
    if renamed == "suffix":
        name = stem + draw(st.sampled_from(SUFFIXES))
    elif renamed == "odd":
        odd = draw(st.one_of(st.sampled_from(ODD_NAME_CHARS), st.characters()))
        at = draw(st.integers(0, len(name)))
        name = name[:at] + odd + name[at:]
    return name, data, how


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    wb = Workbench(data_dir=tmp_path_factory.mktemp("fuzz") / "data",
                   cache_dir=shared_cache_dir())
    wb.new_project("Fuzz")
    return wb


def _one_case(wb: Workbench, name: str, data: bytes, figures: Counter) -> None:
    before = wb.count_rows()
    figures["tried"] += 1
    try:
        [result] = wb.import_files("Fuzz", [(name, data)])
    except ImportRejected as exc:
        figures["refused"] += 1
        written = wb.count_rows() != before
        figures["rows written on refusal"] += written
        assert not written, f"a refusal wrote rows: {exc}"
        assert str(exc).encode("utf-8")  # the message can be printed
        return
    figures["imported"] += 1
    doc = result.document
    try:
        stored = wb.sections(doc.id)
        anchors = [s.anchor for s in stored]
        assert stored, "a document without sections was stored"
        assert len(set(anchors)) == len(anchors), "duplicate anchors stored"
        assert any(s.text.strip() for s in stored) and doc.tokens and doc.tokens > 0
    finally:
        wb.delete_document(doc.id)  # the next case starts from the same library
    assert wb.count_rows()["documents"] == before["documents"]


def _fuzz(wb: Workbench, seeds: list[tuple[str, bytes]], kind: str, examples: int) -> Counter:
    figures = FIGURES.setdefault(kind, Counter())

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(mutated(seeds))
    def run(case):
        name, data, how = case
        figures[how] += 1
        _one_case(wb, name, data, figures)

    run()
    print(f"\nfuzz {kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(figures.items())))
    return figures


KINDS = ["pdf", "docx", "fdx", "subtitles", "fountain", "text"]


@pytest.mark.parametrize("kind", KINDS)
def test_fuzzed_real_documents_import_or_are_refused_cleanly(bench, testdocs, kind):
    figures = _fuzz(bench, _seeds(testdocs, kind), kind, examples=50)
    assert figures["tried"] == 50 and figures["rows written on refusal"] == 0
    assert figures["refused"] > 0  # the mutations do reach the refusals


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_fuzzed_real_documents_heavy(bench, testdocs, kind):
    figures = _fuzz(bench, _seeds(testdocs, kind), kind + " (heavy)", examples=400)
    assert figures["tried"] == 400 and figures["rows written on refusal"] == 0
