"""Project export/import: a lossless round trip, and hostile or damaged zips change nothing.

Documents come in through the real upload path (Workbench.import_files), because an import
re-derives every version from its original with the same importers."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from workbench.config import Settings
from workbench.errors import InvalidArchive, ProjectExists
from workbench.library import Library
from workbench.workbench import Workbench

KITCHEN_V1 = b"""Title: Kitchen Sink

INT. KITCHEN - NIGHT

MARA opens the fridge. The light hums.

EXT. GARDEN - DAY

JONAH digs for the buried caf\xc3\xa9 key under the lemon tree.

INT. ATTIC - NIGHT

MARA finds the letters. Dust everywhere.
"""
KITCHEN_V2 = b"""Title: Kitchen Sink

INT. KITCHEN - NIGHT

MARA.
"""
TALK = b"WEBVTT\n\n00:00:01.500 --> 00:00:03.250\n<v ANA>Hello ghost.\n"


def workbench(data_dir: Path, **settings) -> Workbench:
    return Workbench(Settings(data_dir=data_dir, cache_dir=Settings().cache_dir, **settings))


@pytest.fixture
def wb(data_dir) -> Workbench:
    return workbench(data_dir)


@pytest.fixture
def library(wb) -> Library:
    return wb.library


@pytest.fixture
def exported(wb, tmp_path) -> Path:
    wb.new_project("Film")
    wb.import_files("Film", [("kitchen.fountain", KITCHEN_V1)])
    wb.import_files("Film", [("kitchen.fountain", KITCHEN_V2)])
    wb.import_files("Film", [("talk.vtt", TALK)], role="reference")
    return wb.export("Film", tmp_path / "out" / "film.zip")


def _snapshot(lib: Library, project: str) -> list:
    out = []
    for doc in lib.documents(project):
        versions = []
        for v in lib.versions(doc.id):
            versions.append((v.version, v.sha256, v.size_bytes, v.tokens, v.stats, v.imported_at,
                             lib.original_bytes(doc.id, v.version),
                             lib.text(doc.id, v.version),
                             [(s.ordinal, s.kind, s.anchor, s.text, s.heading, s.number,
                               s.start_s, s.end_s, s.speaker, s.page, s.meta)
                              for s in lib.sections(doc.id, v.version)]))
        out.append((doc.title, doc.filename, doc.kind, doc.format, doc.role, doc.metadata,
                    versions))
    return out


def test_round_trip_is_lossless(library, exported, tmp_path):
    elsewhere = workbench(tmp_path / "elsewhere")
    with elsewhere.library as other:
        info = elsewhere.import_project(exported)
        assert (info.name, info.document_count) == ("Film", 2)
        assert info.created_at == library.get_project("Film").created_at
        assert _snapshot(other, "Film") == _snapshot(library, "Film")
        again = elsewhere.export("Film", tmp_path / "again.zip")
        assert again.read_bytes() == exported.read_bytes()  # exports of an export are equal
        assert [h.anchor for h in other.search("Film", "ghost")] == ["00:00:01"]


def test_import_under_a_new_name_in_the_same_library(wb, library, exported):
    with pytest.raises(ProjectExists):
        wb.import_project(exported)
    copy = wb.import_project(exported, name="Film copy")
    assert _snapshot(library, "Film copy") == _snapshot(library, "Film")
    assert library.get_project("Film copy").id == copy.id != library.get_project("Film").id


def test_archive_contents(exported):
    with zipfile.ZipFile(exported) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("project.json"))
    assert names[-1] == "project.json"
    assert all(n.startswith("originals/") and ".." not in n for n in names[:-1])
    docs = manifest["documents"]
    assert [d["role"] for d in docs] == ["draft", "reference"]
    assert docs[1]["filename"] == "talk.vtt"
    assert [v["version"] for v in docs[0]["versions"]] == [1, 2]
    assert docs[0]["versions"][0]["sections"][2]["anchor"] == "Sc. 3"


def _rewrite(src: Path, dst: Path, edit) -> Path:
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members = edit(members)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def _manifest_edit(change):
    def edit(members):
        manifest = json.loads(members["project.json"])
        change(manifest)
        members["project.json"] = json.dumps(manifest).encode()
        return members
    return edit


def _set(path, value):
    def change(manifest):
        node = manifest
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _swap_original(members):
    name = next(n for n in members if n.startswith("originals/"))
    members[name] = b"tampered"
    return members


def _drop_original(members):
    del members[next(n for n in members if n.startswith("originals/"))]
    return members


DAMAGE = {
    "no manifest": lambda m: {k: v for k, v in m.items() if k != "project.json"},
    "manifest not json": lambda m: {**m, "project.json": b"{not json"},
    "foreign format": _manifest_edit(_set(["format"], "someone-else")),
    "future version": _manifest_edit(_set(["format_version"], 99)),
    "bad role": _manifest_edit(_set(["documents", 0, "role"], "villain")),
    "missing sha": _manifest_edit(lambda m: m["documents"][0]["versions"][0].pop("sha256")),
    "naive date": _manifest_edit(_set(["documents", 0, "created_at"], "2024-01-01T00:00:00")),
    "duplicate version numbers": _manifest_edit(
        _set(["documents", 0, "versions", 1, "version"], 1)),
    "tampered original": _swap_original,
    "missing original": _drop_original,
    "traversal member": lambda m: {**m, "../../evil.txt": b"x"},
    "absolute member": lambda m: {**m, "/etc/evil": b"x"},
    "backslash member": lambda m: {**m, "originals\\..\\evil": b"x"},
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_archives_write_no_rows(wb, library, exported, tmp_path, damage):
    bad = _rewrite(exported, tmp_path / "bad.zip", DAMAGE[damage])
    before = library.count_rows()
    with pytest.raises(InvalidArchive):
        wb.import_project(bad, name="Restored")
    assert library.count_rows() == before


@pytest.mark.parametrize("cut", [0.5, 0.95])
def test_truncated_and_corrupted_zips(wb, library, exported, tmp_path, cut):
    raw = exported.read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(raw[: int(len(raw) * cut)])
    flipped = tmp_path / "flipped.zip"
    with zipfile.ZipFile(exported) as zf:
        first = zf.infolist()[0]
    start = first.header_offset + 30 + len(first.filename.encode())  # no extra field written
    data = bytearray(raw)
    data[start + first.compress_size // 2] ^= 0xFF  # in the compressed bytes: CRC/inflate fails
    flipped.write_bytes(bytes(data))
    before = library.count_rows()
    for path in (truncated, flipped):
        with pytest.raises(InvalidArchive):
            wb.import_project(path, name="Restored")
    (tmp_path / "text.zip").write_text("just text")
    with pytest.raises(InvalidArchive, match="not a zip"):
        wb.import_project(tmp_path / "text.zip", name="Restored")
    assert library.count_rows() == before


def test_foreign_zip_is_refused(wb, library, tmp_path):
    other = tmp_path / "photos.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("IMG_0001.txt", "hello")
    with pytest.raises(InvalidArchive, match="not a Longhand project export"):
        wb.import_project(other)
    assert library.count_rows()["projects"] == 0


def test_oversize_member_stops_at_the_cap(library, exported, tmp_path):
    bomb = _rewrite(exported, tmp_path / "bomb.zip",
                    lambda m: {**m, "originals/0000/v1/kitchen.fountain": b"\0" * 5_000_000})
    assert bomb.stat().st_size < 100_000
    before = library.count_rows()
    small = workbench(library.data_dir, max_upload_bytes=1_000_000)
    with pytest.raises(InvalidArchive, match="over the import limit of 1.0 MB"):
        small.import_project(bomb, name="Restored")
    assert library.count_rows() == before


def test_tampered_text_sections_and_tokens_are_re_derived(wb, library, exported, tmp_path):
    def forge(manifest):
        ver = manifest["documents"][0]["versions"][0]
        ver.update(text="FORGED", tokens=-5, stats={"scenes": 999}, title="Forged",
                   kind="paper", sections=[{"ordinal": "first", "anchor": "Sc. 99"}])
    forged = _rewrite(exported, tmp_path / "forged.zip", _manifest_edit(forge))
    info = wb.import_project(forged, name="Restored")
    assert _snapshot(library, "Restored") == _snapshot(library, "Film")
    assert not wb.search("Restored", "FORGED")
    first = library.versions(library.documents(info.id)[0].id)[0]
    assert first.tokens > 0 and first.stats["scenes"] == 3
