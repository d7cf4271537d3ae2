"""Word importer: documents built with python-docx, a zip bomb, damaged archives, fuzzing."""
from __future__ import annotations

import io
import zipfile

import pytest
from docx import Document
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import UnsupportedDocument
from workbench.importers import docx
from workbench.importers.base import ParsedDocument


def saved(document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def notes_docx() -> bytes:
    d = Document()
    d.add_heading("Story Bible", level=0)
    d.add_paragraph("The town is small and wet.")
    d.add_heading("Characters", level=1)
    d.add_paragraph("Anna, a keeper.")
    table = d.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Tom"
    table.cell(0, 1).text = "her brother"
    d.add_paragraph("")
    return saved(d)


def test_paragraphs_headings_and_tables_in_order():
    doc = docx.parse(notes_docx(), "bible.docx")
    assert doc.kind == "notes" and doc.format == "docx" and doc.title == "Story Bible"
    assert [(s.anchor, s.heading, s.text) for s in doc.sections] == [
        ("¶ 1", "Story Bible", "Story Bible"),
        ("¶ 2", "Story Bible", "The town is small and wet."),
        ("¶ 3", "Characters", "Characters"),
        ("¶ 4", "Characters", "Anna, a keeper."),
        ("¶ 5", "Characters", "Tom"),
        ("¶ 6", "Characters", "her brother")]
    assert doc.stats == {"words": 15}


def test_screenplay_typed_in_word_is_split_into_scenes():
    d = Document()
    d.core_properties.title = "Lighthouse"
    for line in ["INT. LIGHTHOUSE - NIGHT", "Rain.", "ANNA", "(quietly)", "Anyone?",
                 "TOM (O.S.)", "Only me.", "EXT. CLIFF - DAWN #4A#", "TOM", "You came back."]:
        d.add_paragraph(line)
    doc = docx.parse(saved(d), "lighthouse.docx")
    assert doc.kind == "screenplay" and doc.title == "Lighthouse"
    assert [(s.anchor, s.heading) for s in doc.sections] == [
        ("Sc. 1", "INT. LIGHTHOUSE - NIGHT"), ("Sc. 4A", "EXT. CLIFF - DAWN")]
    assert doc.stats["characters"] == ["ANNA", "TOM"] and doc.stats["dialogue_blocks"] == 3


def zip_bomb() -> bytes:
    """40 MB of zeros deflate to ~40 KB: a 1000-fold member, named like Word's main part."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * (40 * 1024 * 1024))
    return buf.getvalue()


def test_zip_bomb_is_refused_before_inflating():
    data = zip_bomb()
    assert len(data) < 200_000
    with pytest.raises(UnsupportedDocument, match="zip bomb"):
        docx.parse(data, "bomb.docx")


def test_many_small_members_over_the_total_limit(monkeypatch):
    monkeypatch.setattr(docx, "MAX_UNCOMPRESSED", 1000)
    with pytest.raises(UnsupportedDocument, match="more than the 1,000 bytes allowed"):
        docx.parse(notes_docx(), "big.docx")


@pytest.mark.parametrize("data, message", [
    (b"PK\x03\x04 this is not really a zip", "damaged"),
    (b"", "empty"),
])
def test_damaged_archives(data, message):
    with pytest.raises(UnsupportedDocument, match=message):
        docx.parse(data, "x.docx")


def test_zip_that_is_not_word():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("content.xml", "<office/>")
    with pytest.raises(UnsupportedDocument, match="not a Word document"):
        docx.parse(buf.getvalue(), "novel.docx")


def test_truncated_docx():
    data = notes_docx()
    with pytest.raises(UnsupportedDocument):
        docx.parse(data[: len(data) // 2], "cut.docx")


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=20000))
def test_fuzz_docx_never_crashes(junk, at):
    base = notes_docx()
    at = at % len(base)
    for data in (b"PK\x03\x04" + junk, base[:at] + junk[:64] + base[at + 64:]):
        try:
            doc = docx.parse(data, "fuzz.docx")
        except UnsupportedDocument:
            continue
        assert isinstance(doc, ParsedDocument)
