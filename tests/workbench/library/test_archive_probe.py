"""The reliability probe for `import-project`: hostile archives crafted here with zipfile, each
refused (0 rows written, nothing written inside or outside the data dir) or re-derived from its
originals by the importers (what the zip claims about text, sections, stats and tokens is
ignored). Prints one summary line for bench/RESULTS_RELIABILITY.md (run with -s):

    .venv/bin/python -m pytest tests/workbench/library/test_archive_probe.py -q -s -p no:randomly
"""
from __future__ import annotations

import hashlib
import json
import stat
import struct
import tracemalloc
import zipfile
from pathlib import Path

from workbench.config import Settings
from workbench.errors import WorkbenchError
from workbench.workbench import Workbench

MB = 1024 * 1024
LIMITS = {"max_upload_bytes": 1 * MB, "max_archive_bytes": 3 * MB}
NOTES = b"Notes\n\nThe lemon tree hides the key. MARA knows.\n"
DATE = "2026-01-02T03:04:05+00:00"


def _version(member: str, data: bytes, number: int = 1) -> dict:
    return {"version": number, "title": "t", "kind": "notes", "format": "text",
            "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data),
            "original": member, "text": "", "stats": {}, "metadata": {}, "tokens": 1,
            "imported_at": DATE, "sections": []}


def build(path: Path, name: str, originals: list[tuple[str, bytes]], edit=None,
          extra=(), symlink: bool = False) -> Path:
    """An export zip in our format: one document per original, then `edit(manifest)`
    (or `edit.raw`, a manifest written by hand); `symlink` marks the originals as links."""
    docs = []
    for i, (filename, data) in enumerate(originals):
        docs.append({"filename": filename, "title": "t", "kind": "notes", "format": "text",
                     "role": "notes", "created_at": DATE,
                     "versions": [_version(f"originals/{i:04d}/v1/f.txt", data)]})
    manifest = {"format": "longhand-project", "format_version": 1,
                "project": {"name": name, "created_at": DATE}, "documents": docs}
    if edit:
        edit(manifest)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (_, data) in enumerate(originals):
            info = zipfile.ZipInfo(f"originals/{i:04d}/v1/f.txt")
            if symlink:
                info.create_system, info.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, data)
        for member in extra:
            member(zf)
        zf.writestr("project.json", getattr(edit, "raw", None) or json.dumps(manifest))
    return path


def _bomb(path: Path, name: str) -> Path:
    """300 MB of zeros in ~300 KB; the manifest says the original has 1,000 bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("originals/0000/v1/f.txt", "w") as out:
            for _ in range(300):
                out.write(bytes(MB))
        manifest = {"format": "longhand-project", "format_version": 1,
                    "project": {"name": name, "created_at": DATE}, "documents": [{
                        "filename": "bomb.txt", "title": "t", "kind": "notes",
                        "format": "text", "role": "notes", "created_at": DATE,
                        "versions": [{**_version("originals/0000/v1/f.txt", b"x" * 1000)}]}]}
        zf.writestr("project.json", json.dumps(manifest))
    return path


def _lying_bomb(path: Path, name: str) -> Path:
    """The bomb again, its zip headers rewritten to claim 1,000 bytes, as a hostile tool would."""
    _bomb(path, name)
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        struct.pack_into("<I", raw, raw.find(signature) + offset, 1000)
    path.write_bytes(bytes(raw))
    return path


def _member(name: str, data: bytes = b"x"):
    return lambda zf: zf.writestr(zipfile.ZipInfo(name), data)


def _set(*path, value):
    def edit(manifest):
        node = manifest
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


class Raw:
    """A manifest given as raw JSON text (deep nesting, escapes json.dumps would not write)."""

    def __init__(self, text: str):
        self.raw = text.encode("utf-8")

    def __call__(self, manifest):
        pass


def _raw_manifest(name: str, filename_json: str = '"notes.txt"', stats: str = "{}") -> Raw:
    sha = hashlib.sha256(NOTES).hexdigest()
    return Raw(
        '{"format": "longhand-project", "format_version": 1, "project": {"name": "%s", '
        '"created_at": "%s"}, "documents": [{"filename": %s, "title": "t", "kind": "notes", '
        '"format": "text", "role": "notes", "created_at": "%s", "versions": [{"version": 1, '
        '"title": "t", "kind": "notes", "format": "text", "sha256": "%s", "size_bytes": %d, '
        '"original": "originals/0000/v1/f.txt", "text": "", "stats": %s, "metadata": {}, '
        '"tokens": 1, "imported_at": "%s", "sections": []}]}]}'
        % (name, DATE, filename_json, DATE, sha, len(NOTES), stats, DATE))


def _forge(manifest):
    ver = manifest["documents"][0]["versions"][0]
    ver.update(text="FORGEDSCENE", tokens=-5, stats={"scenes": 999}, kind="screenplay",
               sections=[{"ordinal": 0, "kind": "scene", "anchor": "Sc. 1",
                          "text": "FORGEDSCENE", "heading": None, "number": None,
                          "start_s": None, "end_s": None, "speaker": None, "page": None,
                          "meta": {}}])


def cases(tmp: Path, outside: Path) -> dict[str, tuple[Path, str]]:
    """name -> (archive, "refused" | "re-derived")."""
    big = b"The lemon tree hides the key. " * 52_000  # 1.5 MB, over the 1 MB upload limit
    parts = [bytes([65 + i]) * (900 * 1024) for i in range(4)]  # 3.6 MB, over the 3 MB total
    deep = "[" * 100_000 + "]" * 100_000
    c = {
        "zip bomb": (_bomb(tmp / "bomb.zip", "P bomb"), "refused"),
        "zip bomb, lying sizes": (_lying_bomb(tmp / "liar.zip", "P liar"), "refused"),
        "total over the cap": (build(tmp / "total.zip", "P total",
                                     [(f"{i}.txt", p) for i, p in enumerate(parts)]), "refused"),
        "oversize original": (build(tmp / "big.zip", "P big", [("big.txt", big)]), "refused"),
        "traversal member": (build(tmp / "trav.zip", "P trav", [("notes.txt", NOTES)],
                                   extra=[_member("../../" + outside.name + "/evil.txt")]),
                             "refused"),
        "absolute member": (build(tmp / "abs.zip", "P abs", [("notes.txt", NOTES)],
                                  extra=[_member(str(outside / "evil.txt"))]), "refused"),
        "symlink entry": (build(tmp / "link.zip", "P link", [("notes.txt", b"/etc/passwd")],
                                symlink=True), "refused"),
        "traversal file name": (build(tmp / "passwd.zip", "P passwd", [("notes.txt", NOTES)],
                                      _set("documents", 0, "filename",
                                           value="../../../etc/passwd")), "refused"),
        "huge integer": (build(tmp / "int.zip", "P int", [("notes.txt", NOTES)],
                               _set("documents", 0, "versions", 0, "version",
                                    value=10 ** 40)), "refused"),
        "100k-deep JSON": (build(tmp / "deep.zip", "P deep", [("notes.txt", NOTES)],
                                 _raw_manifest("P deep", stats=deep)), "refused"),
        "lone surrogate": (build(tmp / "sur.zip", "P sur", [("notes.txt", NOTES)],
                                 _raw_manifest("P sur", '"\\ud800notes.txt"')), "refused"),
        "tampered text, sections, stats, tokens": (
            build(tmp / "forged.zip", "P forged", [("notes.txt", NOTES)], _forge),
            "re-derived"),
    }
    return c


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_hostile_archives_are_refused_or_re_derived(tmp_path):
    data_dir, work, outside = tmp_path / "data", tmp_path / "zips", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    wb = Workbench(Settings(data_dir=data_dir, cache_dir=Settings().cache_dir, **LIMITS))
    wb.new_project("Existing")
    wb.import_files("Existing", [("existing.txt", b"An existing note about the garden.\n")])
    results = []
    for name, (path, expected) in cases(work, outside).items():
        rows, files, around = wb.count_rows(), listing(data_dir), listing(tmp_path.parent)
        tracemalloc.start()
        try:
            info = wb.import_project(path)
            outcome, message = "imported", info.name
        except WorkbenchError as err:
            outcome, message = "refused", str(err)
        except Exception as err:  # noqa: BLE001 - a traceback is what the probe counts
            outcome, message = f"crashed ({type(err).__name__})", str(err)[:200]
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if outcome == "imported":
            outcome = "re-derived" if _re_derived(wb, info.id) else "trusted"
        written = sum(wb.count_rows().values()) - sum(rows.values())
        stray = (listing(tmp_path.parent) - around) | (listing(data_dir) - files)
        results.append((name, expected, outcome, written, sorted(stray), peak, message))
    refused = [r for r in results if r[2] == "refused"]
    print(f"\nimport-project probe: {len(results)} cases, {len(refused)} refused, "
          f"{sum(r[2] == 're-derived' for r in results)} re-derived, "
          f"{sum(r[3] for r in refused)} rows written on refusal, "
          f"{sum(len(r[4]) for r in results)} files written, "
          f"{sum(r[2].startswith('crashed') for r in results)} crashes; "
          f"zip bomb peak {max(results[0][5], results[1][5]) / MB:.1f} MB traced")
    table = "\n".join(f"{r[0]}: expected {r[1]}, got {r[2]}, rows {r[3]}, files {r[4]}, "
                      f"peak {r[5] / MB:.1f} MB: {r[6][:150]}" for r in results)
    assert all(r[1] == r[2] for r in results), table
    assert all(r[3] == 0 and not r[4] for r in refused), table
    assert results[0][5] < 64 * MB and results[1][5] < 64 * MB, table  # bombs never inflated
    assert not (outside / "evil.txt").exists()


def _re_derived(wb: Workbench, project_id: int) -> bool:
    """True when what was stored is what the importers make of the original, not the zip's."""
    doc = wb.documents(project_id)[0]
    text = wb.library.text(doc.id)
    sections = wb.sections(doc.id)
    return (doc.tokens == wb.token_counter().count(text) and doc.kind == "notes"
            and "FORGED" not in text and not any("FORGED" in s.text for s in sections)
            and doc.stats.get("scenes") != 999 and doc.filename == "notes.txt")
