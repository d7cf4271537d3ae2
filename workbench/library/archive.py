"""Project export and import as a zip: the original bytes of every version plus `project.json`
(documents, roles, every version's parsed text, stats, metadata and sections).

The zip is deterministic (fixed member order, timestamps and compression), so exporting an
imported export gives the same bytes: that is how the round trip is proven lossless. Reading
treats the zip as hostile: member names are checked against traversal, every member is read
with a size cap (a zip bomb stops at the cap), JSON is validated field by field, and each
original is checked against its sha256. Any problem is an `InvalidArchive`; the caller restores
inside one transaction so a failure writes no rows.
Does not know: sessions' lifetimes or how documents are imported from files.
"""
from __future__ import annotations

import json
import os
import re
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from workbench.errors import InvalidArchive
from workbench.importers.base import KINDS, ROLES
from workbench.library import records
from workbench.library.models import Document, Project, Section, Version

FORMAT, FORMAT_VERSION = "longhand-project", 1
MANIFEST = "project.json"
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 100_000
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_OPT_STR, _NUM = (str, type(None)), (int, float, type(None))
_SECTION_TYPES = {"ordinal": (int,), "kind": (str,), "anchor": (str,), "text": (str,),
                  "heading": _OPT_STR, "number": _OPT_STR, "start_s": _NUM, "end_s": _NUM,
                  "speaker": _OPT_STR, "page": (int, type(None)), "meta": (dict,)}


@dataclass
class Manifest:
    name: str
    created_at: datetime
    documents: list[dict]


def _member_name(index: int, version: int, filename: str) -> str:
    base = _UNSAFE.sub("_", re.split(r"[\\/]", filename)[-1]).lstrip(".")[:120] or "file"
    return f"originals/{index:04d}/v{version}/{base}"


def _write(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def export_project(s: Session, project: Project, out_path: Path) -> Path:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".partial")
    documents = []
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            docs = s.scalars(select(Document).where(Document.project_id == project.id)
                             .order_by(Document.id)).all()
            for index, doc in enumerate(docs):
                documents.append(_export_document(s, zf, index, doc))
            manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                        "project": {"name": project.name,
                                    "created_at": project.created_at.isoformat()},
                        "documents": documents}
            _write(zf, MANIFEST, json.dumps(manifest, ensure_ascii=False, sort_keys=True,
                                            indent=1).encode("utf-8"))
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def _export_document(s: Session, zf: zipfile.ZipFile, index: int, doc: Document) -> dict:
    versions = []
    rows = s.scalars(select(Version).options(undefer(Version.original), undefer(Version.text))
                     .where(Version.document_id == doc.id).order_by(Version.version))
    for ver in rows:
        member = _member_name(index, ver.version, doc.filename)
        _write(zf, member, ver.original)
        sections = s.scalars(select(Section).where(Section.version_id == ver.id)
                             .order_by(Section.ordinal))
        versions.append({
            "version": ver.version, "title": ver.title, "kind": ver.kind, "format": ver.format,
            "sha256": ver.sha256, "size_bytes": ver.size_bytes, "original": member,
            "text": ver.text, "stats": ver.stats, "metadata": ver.doc_metadata,
            "tokens": ver.tokens, "imported_at": ver.imported_at.isoformat(),
            "sections": [records.section_dict(sec) for sec in sections]})
        s.expunge(ver)  # let the original bytes go before the next version is read
    return {"filename": doc.filename, "title": doc.title, "kind": doc.kind,
            "format": doc.format, "role": doc.role, "created_at": doc.created_at.isoformat(),
            "versions": versions}


# -- reading ------------------------------------------------------------------------------
def _check_member_name(name: str) -> None:
    parts = PurePosixPath(name).parts
    if (not name or name.startswith("/") or "\\" in name or "\x00" in name
            or ".." in parts or (parts and ":" in parts[0])):
        raise InvalidArchive(f"The archive holds an unsafe file name ({name!r}); "
                             "it was not imported.")


class ArchiveReader:
    """An open export zip whose names were checked; members are read with a size cap."""

    def __init__(self, zf: zipfile.ZipFile, label: str, limit: int):
        self.zf, self.label, self.limit = zf, label, limit
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise InvalidArchive(f"{label} holds too many files ({len(infos)}).")
        for info in infos:
            _check_member_name(info.filename)
        self.names = {info.filename for info in infos}
        if MANIFEST not in self.names:
            raise InvalidArchive(f"{label} is not a Longhand project export "
                                 f"(it has no {MANIFEST}).")
        self.manifest = parse_manifest(self._json(self.read(MANIFEST)), label)

    def read(self, name: str) -> bytes:
        if name not in self.names:
            raise InvalidArchive(f"{self.label} is incomplete: {name!r} is missing.")
        chunks, total = [], 0
        try:
            with self.zf.open(name) as member:
                while chunk := member.read(1 << 20):
                    total += len(chunk)
                    if total > self.limit:
                        raise InvalidArchive(
                            f"{self.label}: {name!r} unpacks to more than "
                            f"{self.limit:,} bytes, the limit; nothing was imported.")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                RuntimeError) as err:
            raise InvalidArchive(f"{self.label} is damaged ({name!r}: {err}).") from err
        return b"".join(chunks)

    def original(self, version: dict) -> bytes:
        data = self.read(version["original"])
        if records.sha256_hex(data) != version["sha256"] or len(data) != version["size_bytes"]:
            raise InvalidArchive(f"{self.label} is damaged: {version['original']!r} does not "
                                 "match its recorded checksum.")
        return data

    def _json(self, raw: bytes) -> object:
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise InvalidArchive(f"{self.label}: {MANIFEST} is not valid JSON ({err}).") from err


@contextmanager
def open_archive(path: Path, limit: int = MAX_MEMBER_BYTES) -> Iterator[ArchiveReader]:
    if not path.is_file():
        raise InvalidArchive(f"{path} does not exist or is not a file.")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise InvalidArchive(f"{path.name} is not a zip file or is damaged ({err}).") from err
    with zf:
        yield ArchiveReader(zf, path.name, limit)


def _field(obj: object, key: str, types: tuple, where: str) -> object:
    if not isinstance(obj, dict) or key not in obj:
        raise InvalidArchive(f"{MANIFEST}: {where} has no {key!r}.")
    value = obj[key]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise InvalidArchive(f"{MANIFEST}: {where}.{key} has the wrong type.")
    return value


def _time(obj: object, key: str, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(_field(obj, key, (str,), where))
    except ValueError as err:
        raise InvalidArchive(f"{MANIFEST}: {where}.{key} is not a date.") from err
    if value.tzinfo is None:
        raise InvalidArchive(f"{MANIFEST}: {where}.{key} has no time zone.")
    return value


def _choice(obj: object, key: str, allowed: tuple[str, ...], where: str) -> str:
    value = _field(obj, key, (str,), where)
    if value not in allowed:
        raise InvalidArchive(f"{MANIFEST}: {where}.{key} is {value!r}, not one of {allowed}.")
    return value


def parse_manifest(data: object, label: str) -> Manifest:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidArchive(f"{label} is not a Longhand project export.")
    if data.get("format_version") != FORMAT_VERSION:
        raise InvalidArchive(f"{label} was written by a newer or unknown Longhand "
                             f"(format version {data.get('format_version')!r}).")
    project = _field(data, "project", (dict,), "root")
    documents = _field(data, "documents", (list,), "root")
    for i, doc in enumerate(documents):
        where = f"documents[{i}]"
        for key in ("filename", "title", "format"):
            _field(doc, key, (str,), where)
        _choice(doc, "kind", KINDS, where)
        _choice(doc, "role", ROLES, where)
        _time(doc, "created_at", where)
        versions = _field(doc, "versions", (list,), where)
        if not versions:
            raise InvalidArchive(f"{MANIFEST}: {where} has no versions.")
        for j, ver in enumerate(versions):
            _check_version(ver, f"{where}.versions[{j}]")
    return Manifest(name=_field(project, "name", (str,), "project"),
                    created_at=_time(project, "created_at", "project"), documents=documents)


def _check_version(ver: object, where: str) -> None:
    for key, types in (("version", (int,)), ("title", (str,)), ("format", (str,)),
                       ("sha256", (str,)), ("size_bytes", (int,)), ("original", (str,)),
                       ("text", (str,)), ("stats", (dict,)), ("metadata", (dict,)),
                       ("tokens", (int, type(None))), ("sections", (list,))):
        _field(ver, key, types, where)
    _choice(ver, "kind", KINDS, where)
    _time(ver, "imported_at", where)
    for k, sec in enumerate(ver["sections"]):
        for key, types in _SECTION_TYPES.items():
            _field(sec, key, types, f"{where}.sections[{k}]")


def restore(s: Session, reader: ArchiveReader, name: str) -> Project:
    """Write the archive's project under `name`; the caller owns the transaction."""
    manifest = reader.manifest
    project = Project(name=name, created_at=manifest.created_at)
    s.add(project)
    s.flush()
    for doc_data in manifest.documents:
        doc = Document(project_id=project.id, filename=doc_data["filename"],
                       title=doc_data["title"], kind=doc_data["kind"],
                       format=doc_data["format"], role=doc_data["role"],
                       created_at=_time(doc_data, "created_at", "document"))
        s.add(doc)
        s.flush()
        for ver in doc_data["versions"]:
            data = records.VersionData(
                title=ver["title"], kind=ver["kind"], format=ver["format"], text=ver["text"],
                original=reader.original(ver), stats=ver["stats"], metadata=ver["metadata"],
                tokens=ver["tokens"], imported_at=_time(ver, "imported_at", "version"),
                sections=[{key: sec[key] for key in _SECTION_TYPES}
                          for sec in ver["sections"]])
            records.write_version(s, doc, ver["version"], data)
        doc.title, doc.kind, doc.format = doc_data["title"], doc_data["kind"], doc_data["format"]
    s.flush()
    return project
