"""PDF importer: a real paper, scans, encrypted and broken files, a screenplay PDF, fuzzing."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import UnsupportedDocument
from workbench.importers import pdf
from workbench.importers.base import ParsedDocument


def build_pdf(pages: list[list[str]]) -> bytes:
    """A minimal, valid PDF with one Courier text line per entry (no PDF writer needed)."""
    n = len(pages)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{' '.join(f'{4 + 2 * i} 0 R' for i in range(n))}] "
            f"/Count {n} >>".encode(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>"]
    for i, lines in enumerate(pages):
        escaped = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                   for ln in lines]
        body = "BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(f"({ln}) Tj T*" for ln in escaped)
        body += " ET"
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                    f"<< /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode())
        objs.append(f"<< /Length {len(body)} >>\nstream\n{body}\nendstream".encode())
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    return out


def load(testdocs, rel: str) -> ParsedDocument:
    path = testdocs / rel
    return pdf.parse(path.read_bytes(), path.name)


def test_specter_paper_pages_and_title(testdocs):
    doc = load(testdocs, "pdfs/allenai__s2orc-doc2json/2020.acl-main.207.pdf")
    assert doc.kind == "paper" and doc.format == "pdf"
    assert doc.title == ("SPECTER: Document-level Representation Learning using "
                         "Citation-informed Transformers")
    assert doc.stats["pages"] == 13
    assert [s.anchor for s in doc.sections] == [f"p. {n}" for n in range(1, 14)]
    assert [s.page for s in doc.sections] == list(range(1, 14))
    assert "Citation-informed Transformers" in doc.sections[0].text
    assert doc.stats["words"] > 8000


def test_ocr_scan_with_text_layer_and_owner_password_pdf(testdocs):
    scan = load(testdocs, "pdfs/py-pdf__pypdf/Seige_of_Vicksburg_Sample_OCR.pdf")
    assert scan.stats["pages"] == 6 and len(scan.sections) == 6
    assert "VICKSBURG" in scan.sections[0].text
    assert scan.title == "THE SIEGE OF VICKSBURG. 49"  # metadata title 'Binder1.pdf' skipped
    owner = load(testdocs, "pdfs/py-pdf__pypdf/r6-owner-password.pdf")  # AES-256, empty user pw
    assert owner.stats["pages"] == 1 and owner.text.strip()


def test_court_transcript_pdf_keeps_its_page(testdocs):
    doc = load(testdocs, "transcripts/jsvine__pdfplumber/scotus-transcript-p1.pdf")
    assert doc.stats["pages"] == 1 and doc.kind == "paper"
    assert "KNOWLES" in doc.text.upper() and "MIRZAYANCE" in doc.text.upper()


def test_broken_xref_is_repaired_and_noted(testdocs):
    doc = load(testdocs, "pdfs/py-pdf__pypdf/issue-297.pdf")
    assert doc.text == "test example"
    assert doc.metadata["repaired"]


@pytest.mark.parametrize("rel, message", [
    ("pdfs/jsvine__pdfplumber/empty.pdf", "empty"),
    ("pdfs/py-pdf__pypdf/encrypted-file.pdf", "password-protected"),
    ("pdfs/py-pdf__pypdf/issue-3850-1bit-indexed-flate.pdf", "no text layer"),
    ("pdfs/jsvine__pdfplumber/malformed-from-issue-932.pdf", "no text layer"),
    ("pdfs/py-pdf__pypdf/issue-301.pdf", "unreadable"),
])
def test_refused_with_a_clear_reason(testdocs, rel, message):
    with pytest.raises(UnsupportedDocument, match=message):
        load(testdocs, rel)


def test_not_a_pdf_and_truncated_pdf(testdocs):
    with pytest.raises(UnsupportedDocument, match="not one"):
        pdf.parse(b"hello world", "fake.pdf")
    real = (testdocs / "pdfs/py-pdf__pypdf/encrypted-file.pdf").read_bytes()
    with pytest.raises(UnsupportedDocument):
        pdf.parse(real[:300], "cut.pdf")


SCRIPT = [
    ["1 INT. LIGHTHOUSE - NIGHT 1", "Rain hammers the glass. ANNA (40s) climbs the stairs.",
     "ANNA", "(breathless)", "Is anyone up here?", "TOM (O.S.)", "Only me.", "2."],
    ["2 EXT. CLIFF PATH - DAWN 2", "Tom waits by the rail.", "TOM", "You came back.",
     "ANNA (CONT'D)", "I never left.", "CUT TO:", "3."],
    ["3 INT. KITCHEN - DAY 3", "A kettle screams.", "TOM", "Tea?"],
]


def test_screenplay_pdf_is_split_into_scenes():
    doc = pdf.parse(build_pdf(SCRIPT), "lighthouse.pdf")
    assert doc.kind == "screenplay" and doc.format == "pdf"
    assert doc.title == "lighthouse"  # no title page and no metadata title: the file name
    scenes = [s for s in doc.sections if s.kind == "scene"]
    assert [(s.anchor, s.heading, s.page) for s in scenes] == [
        ("Sc. 1", "INT. LIGHTHOUSE - NIGHT", 1), ("Sc. 2", "EXT. CLIFF PATH - DAWN", 2),
        ("Sc. 3", "INT. KITCHEN - DAY", 3)]
    assert doc.stats["characters"] == ["ANNA", "TOM"]
    assert doc.stats["dialogue_blocks"] == 5
    assert doc.stats["pages"] == 3 and doc.stats["scenes"] == 3
    assert "2." not in doc.text.split("\n")  # page numbers are not dialogue


def test_paper_pdf_without_metadata_title_uses_first_line():
    doc = pdf.parse(build_pdf([["Notes on the Lighthouse Draft", "Some thoughts follow here."],
                               ["Second page text."]]), "n.pdf")
    assert doc.kind == "paper" and doc.title == "Notes on the Lighthouse Draft"
    assert [(s.anchor, s.text) for s in doc.sections] == [
        ("p. 1", "Notes on the Lighthouse Draft\nSome thoughts follow here."),
        ("p. 2", "Second page text.")]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000), st.integers(min_value=0, max_value=2000), st.booleans())
def test_fuzz_pdf_never_crashes(junk, cut, header):
    base = build_pdf([["Hello world, a page of text."]])
    data = (b"%PDF-1.4\n" + junk) if header else base[:cut] + junk[:50] + base[cut + 50:]
    try:
        doc = pdf.parse(data, "fuzz.pdf")
    except UnsupportedDocument:
        return
    assert isinstance(doc, ParsedDocument)
