"""Refusals and their messages: wide encodings, binary tails, unsafe names, sizes, special
files, hostile .docx archives and lone surrogates; each through the real code path."""
from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import threading
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from docx import Document
from embedded_cache import shared_cache_dir

from workbench import Workbench
from workbench.config import Settings
from workbench.errors import ImportRejected, UnsupportedDocument
from workbench.importers import docx, format_size, parse_file, safe_filename

SHERLOCK = "prose/jsvine__markovify/sherlock.txt"
ATG = "transcripts/Spacelog__Spacelog/mr3/ATG"
LATIN = "Le café était fermé. Élodie a acheté des crêpes près de l'église.\n"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
                                   "utf-32-be"])
def test_wide_encodings_without_or_with_bom_are_text(codec):
    assert parse_file(LATIN.encode(codec), "notes.txt").text == LATIN.strip()


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-32-le", "utf-32"])
def test_real_transcript_in_a_wide_encoding_keeps_its_cues(testdocs, codec):
    raw = (testdocs / ATG).read_bytes()
    plain = parse_file(raw, "ATG")
    wide = parse_file(raw.decode("utf-8").encode(codec), "ATG")
    assert wide.kind == "transcript" and wide.stats == plain.stats
    assert [(s.anchor, s.speaker, s.text) for s in wide.sections] == [
        (s.anchor, s.speaker, s.text) for s in plain.sections]


@pytest.mark.parametrize("junk", ["random", "random without NUL", "valid UTF-8 controls"])
def test_binary_after_the_first_64_kb_is_refused(testdocs, junk):
    prose = (testdocs / SHERLOCK).read_bytes()
    tail = random.Random(7).randbytes(16_384)
    if junk == "random without NUL":
        tail = tail.replace(b"\x00", b"\x01")
    elif junk == "valid UTF-8 controls":  # C0 and C1 controls, every byte valid UTF-8
        tail = "".join(chr(c) for c in [*range(1, 9), 0x1b, *range(0x80, 0xa0)] * 200).encode()
    data = prose[:300_000] + tail + prose[300_000:400_000]
    with pytest.raises(UnsupportedDocument, match="binary"):
        parse_file(data, "sherlock.txt")
    assert parse_file(prose[:400_000], "sherlock.txt").kind == "prose"


@pytest.mark.parametrize("name, shows", [
    ("invoice\u202etxt.exe", "U+202E"),
    ("draft\u200b.fountain", "U+200B"),
    ("draft\u200c.txt", "U+200C"),
    ("draft\u200d.txt", "U+200D"),
    ("word\u2060joiner.txt", "U+2060"),
    ("\ufeffnotes.txt", "U+FEFF"),
    ("line\u2028break.txt", "U+2028"),
    ("esc\x1b[31m.txt", "U+001B"),
])
def test_invisible_and_direction_characters_in_names_are_refused(name, shows):
    with pytest.raises(UnsupportedDocument, match="rename the file") as err:
        safe_filename(name)
    assert shows in str(err.value) and name not in str(err.value)
    assert "\\u" in str(err.value) or "\\x" in str(err.value)  # the name is shown escaped


def test_lone_surrogate_in_a_name_is_refused_and_the_message_prints():
    with pytest.raises(UnsupportedDocument, match="not valid Unicode") as err:
        parse_file(b"hello there", "caf\udcff.txt")
    str(err.value).encode("utf-8")  # the CLI prints it: no UnicodeEncodeError
    assert "\\udcff" in str(err.value)


@pytest.mark.parametrize("size, shown", [
    (0, "0 bytes"), (1, "1 byte"), (1000, "1,000 bytes"), (1023, "1,023 bytes"),
    (1024, "1.0 KB"), (1536, "1.5 KB"), (1024 * 1024, "1.0 MB"),
    (200 * 1024 * 1024, "200.0 MB"), (3 * 1024 ** 3, "3.0 GB")])
def test_sizes_are_formatted_for_people(size, shown):
    assert format_size(size) == shown


def test_size_limit_messages_never_say_zero_over_zero(testdocs, data_dir):
    data = (testdocs / SHERLOCK).read_bytes()[:1001]
    with pytest.raises(UnsupportedDocument) as err:
        parse_file(data, "s.txt", max_bytes=1000)
    assert "1,001 bytes, over the import limit of 1,000 bytes" in str(err.value)
    path = data_dir / "s.txt"
    path.write_bytes(data)
    wb = Workbench(Settings(max_upload_bytes=1000), data_dir=data_dir / "lib",
                   cache_dir=shared_cache_dir())
    wb.new_project("P")
    for item in (path, ("s.txt", data)):
        with pytest.raises(ImportRejected, match="1,001 bytes, over the import limit of "
                                                 "1,000 bytes"):
            wb.import_files("P", [item])
    # a limit and a size one byte apart in the same unit are shown exactly
    with pytest.raises(UnsupportedDocument, match="2,097,153 bytes.*2,097,152 bytes"):
        parse_file(b"x" * (2 * 1024 * 1024 + 1), "big.txt", max_bytes=2 * 1024 * 1024)


def _import_in_thread(wb, item) -> list:
    """Run an import in a daemon thread, so a blocking read fails the test instead of hanging."""
    outcome: list = []

    def run():
        try:
            outcome.append(wb.import_files("P", [item]))
        except Exception as exc:  # noqa: BLE001 - the test inspects what came out
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    return outcome


def test_devices_and_fifos_are_not_regular_files_and_are_never_read(data_dir):
    wb = Workbench(data_dir=data_dir / "lib", cache_dir=shared_cache_dir())
    wb.new_project("P")
    before = wb.count_rows()
    fifo = data_dir / "pipe.txt"
    os.mkfifo(fifo)
    for item in ("/dev/zero", fifo):
        outcome = _import_in_thread(wb, item)
        assert outcome, f"importing {item} blocked (it was read)"
        assert isinstance(outcome[0], ImportRejected), outcome
        message = str(outcome[0])
        assert "not a regular file" in message and "folder" not in message
    outcome = _import_in_thread(wb, data_dir)
    assert isinstance(outcome[0], ImportRejected) and "a folder" in str(outcome[0])
    assert wb.count_rows() == before


def _small_docx() -> bytes:
    d = Document()
    d.add_paragraph("The keeper lit the lamp at dusk.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_docx_needing_a_newer_zip_version_is_refused():
    data = bytearray(_small_docx())
    for signature, offset in ((b"PK\x03\x04", 4), (b"PK\x01\x02", 6)):
        at = data.find(signature)
        while at >= 0:
            data[at + offset:at + offset + 2] = struct.pack("<H", 64)
            at = data.find(signature, at + 4)
    with pytest.raises(UnsupportedDocument, match=r"cannot open \(zip file version 6.4\)"):
        parse_file(bytes(data), "new.docx")


def _lying_docx(inflated: int, declared: int) -> bytes:
    """A real python-docx package whose word/document.xml inflates to `inflated` bytes but
    declares `declared` (patched in the local header and the central directory; CRC true)."""
    src = zipfile.ZipFile(io.BytesIO(_small_docx()))
    xml = (b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
           b'wordprocessingml/2006/main"><w:body>')
    body = xml + b"<w:p/>" * ((inflated - len(xml)) // 6)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename != "word/document.xml":
                z.writestr(info.filename, src.read(info))
        z.writestr("word/document.xml", body)
    data = bytearray(buf.getvalue())
    real = struct.pack("<I", len(body))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at >= 0:
            if data[at + offset:at + offset + 4] == real:
                data[at + offset:at + offset + 4] = struct.pack("<I", declared)
            at = data.find(signature, at + 4)
    assert data.count(struct.pack("<I", declared)) >= 2
    return bytes(data)


def test_docx_bomb_with_lying_sizes_is_refused_in_bounded_memory():
    bomb = _lying_docx(inflated=96 * 1024 * 1024, declared=5000)
    tracemalloc.start()
    try:
        with pytest.raises(UnsupportedDocument, match="zip bomb|do not match"):
            parse_file(bomb, "novel.docx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 * 1024 * 1024, f"peak {peak / 2**20:.0f} MB while refusing"


def test_docx_whose_sizes_lie_small_is_refused_as_damaged(monkeypatch):
    monkeypatch.setattr(docx, "MAX_RATIO", 10_000)  # the ratio check alone would let it in
    with pytest.raises(UnsupportedDocument, match="do not match"):
        parse_file(_lying_docx(inflated=300_000, declared=5000), "novel.docx")


def _pdf_mapping_a_to(target_hex: str) -> bytes:
    """A one-page PDF whose font's ToUnicode maps 'A' to the UTF-16 code `target_hex`."""
    cmap = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            b"/CMapName /X def 1 begincodespacerange <00> <FF> endcodespacerange\n"
            b"1 beginbfrange <41> <41> <" + target_hex.encode() + b">\nendbfrange\n"
            b"endcmap CMapName currentdict /CMap defineresource pop end end\n")
    content = (b"BT /F1 12 Tf 72 700 Td (The siege began in May; A general A plan followed. "
               b"The river was high and the town held out for weeks.) Tj ET\n")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"endstream"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1,
                                                                               xref)
    return bytes(out)


def test_lone_surrogates_in_extracted_text_are_replaced_and_the_import_stores(data_dir):
    data = _pdf_mapping_a_to("D800")  # pypdf turns the mapping into a lone U+D800
    doc = parse_file(data, "siege.pdf")
    assert "\ud800" not in doc.text and doc.text.count("\ufffd") == 2
    assert all("\ud800" not in s.text for s in doc.sections)
    assert doc.text.startswith("The siege began in May; \ufffd general")
    wb = Workbench(data_dir=data_dir / "lib", cache_dir=shared_cache_dir())
    wb.new_project("P")
    [result] = wb.import_files("P", [("siege.pdf", data)])
    assert result.status == "created" and wb.count_rows()["sections"] == 1
    assert [h.anchor for h in wb.search("P", "river")] == ["p. 1"]


def test_cli_refuses_special_files_and_undecodable_names_with_exit_2(tmp_path):
    """`python -m workbench import` as a user runs it: before, a name holding a byte that is not
    UTF-8 was a UnicodeEncodeError traceback from SQLite and a FIFO was "a folder"."""
    root = Path(__file__).resolve().parents[3]
    data_dir, odd = tmp_path / "data", tmp_path / os.fsdecode(b"caf\xff.txt")
    odd.write_bytes(b"The keeper lit the lamp.\n")
    os.mkfifo(tmp_path / "pipe.txt")

    def cli(*args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
        return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                               *args], cwd=root, capture_output=True, text=True, timeout=300,
                              env=env, errors="backslashreplace")

    assert cli("new-project", "P").returncode == 0
    for path, message in ((odd, "not valid Unicode"), (tmp_path / "pipe.txt", "it is a pipe"),
                          (Path("/dev/zero"), "it is a device")):
        out = cli("import", "P", str(path))
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith("error: ") and message in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
