"""Project export and import as a zip: the original bytes of every version plus `project.json`
(documents, roles, version order, dates, and each version's parsed text, stats and sections).

The zip is deterministic (fixed member order, timestamps and compression), so exporting an
imported export gives the same bytes: that is how the round trip is proven lossless. A restored
version (migration 0010) is written out with its content like any other; reading it back, a
version whose bytes repeat an earlier version of the same document is restored again, its
content stored once.

Reading treats the zip as hostile. Only what cannot be derived is taken from it: the project's
name and date, each document's file name, role and date, and each version's number and date.
Everything else (title, kind, text, sections, stats, tokens) is re-derived from the original
bytes by the caller's `derive` (the Workbench passes its upload path: the same importers, size
limit and token counter as a file upload), so a forged scene or `tokens=-5` never lands.
Limits: member names are checked against traversal, absolute paths and symlinks; every original
is held to the per-file upload limit and its recorded size, the whole archive to a total, first
against the sizes the zip declares and then while inflating (a zip bomb whose headers lie stops
at the cap, in bounded memory); JSON that
is too deep, too large a number, not Unicode or of the wrong shape is refused. Any problem is
an `InvalidArchive` before the one write transaction starts, so a refusal writes no rows.
Does not know: sessions' lifetimes, file formats or tokenizers (the caller's `derive` does).
"""
from __future__ import annotations

import dataclasses
import json
import re
import stat
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from workbench.errors import InvalidArchive, UnsupportedDocument
from workbench.importers.base import ROLES, ParsedDocument
from workbench.library import records
from workbench.library.models import Document, Project, Section, Version

FORMAT, FORMAT_VERSION = "longhand-project", 1
MANIFEST = "project.json"
MAX_MEMBERS = 100_000
MAX_VERSION = 2**31 - 1
MAX_NAME_CHARS = 1000
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MB = 1024 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    """`member_bytes`: per original (the upload limit); `total_bytes`: all of it unpacked."""

    member_bytes: int = 200 * _MB
    total_bytes: int = 1024 * _MB


class Derived(Protocol):
    """What the caller's upload path makes of one original."""

    filename: str
    parsed: ParsedDocument
    tokens: int | None


Derive = Callable[[str, bytes], Derived]


@dataclass(frozen=True)
class VersionEntry:
    number: int
    member: str
    sha256: str
    size_bytes: int
    imported_at: datetime


@dataclass(frozen=True)
class DocumentEntry:
    filename: str
    role: str
    created_at: datetime
    versions: list[VersionEntry]


@dataclass(frozen=True)
class Manifest:
    name: str
    created_at: datetime
    documents: list[DocumentEntry]


def _member_name(index: int, version: int, filename: str) -> str:
    base = _UNSAFE.sub("_", re.split(r"[\\/]", filename)[-1]).lstrip(".")[:120] or "file"
    return f"originals/{index:04d}/v{version}/{base}"


def _write(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def export_project(s: Session, project: Project, out: BinaryIO) -> None:
    """Write the export zip into `out` (a seekable file the caller places atomically)."""
    documents = []
    with zipfile.ZipFile(out, "w") as zf:
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


def _export_document(s: Session, zf: zipfile.ZipFile, index: int, doc: Document) -> dict:
    versions = []
    rows = s.scalars(select(Version).options(undefer(Version.original), undefer(Version.text))
                     .where(Version.document_id == doc.id).order_by(Version.version))
    for ver in rows:
        member = _member_name(index, ver.version, doc.filename)
        # a restored version's content lives in the row it points at (migration 0010)
        content = ver if ver.content_version_id is None else s.scalars(
            select(Version).options(undefer(Version.original), undefer(Version.text))
            .where(Version.id == ver.content_version_id)).one()
        _write(zf, member, content.original)
        sections = s.scalars(select(Section).where(Section.version_id == content.id)
                             .order_by(Section.ordinal))
        versions.append({
            "version": ver.version, "title": ver.title, "kind": ver.kind, "format": ver.format,
            "sha256": ver.sha256, "size_bytes": ver.size_bytes, "original": member,
            "text": content.text, "stats": ver.stats, "metadata": ver.doc_metadata,
            "tokens": ver.tokens, "imported_at": ver.imported_at.isoformat(),
            "sections": [records.section_dict(sec) for sec in sections]})
        s.expunge(ver)  # let the original bytes go before the next version is read
    return {"filename": doc.filename, "title": doc.title, "kind": doc.kind,
            "format": doc.format, "role": doc.role, "created_at": doc.created_at.isoformat(),
            "versions": versions}


# -- reading ------------------------------------------------------------------------------
def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    parts = PurePosixPath(name).parts
    if (not name or name.startswith("/") or "\\" in name or "\x00" in name
            or ".." in parts or (parts and ":" in parts[0])):
        raise InvalidArchive(f"The archive holds an unsafe file name ({name[:200]!r}); "
                             "nothing was imported.")
    if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
        raise InvalidArchive(f"The archive holds a symbolic link ({name[:200]!r}); "
                             "nothing was imported.")
    if info.flag_bits & 0x1:
        raise InvalidArchive(f"The archive holds an encrypted file ({name[:200]!r}); "
                             "nothing was imported.")


def _size(n: int) -> str:
    return f"{n / _MB:.1f} MB" if n >= _MB // 10 else f"{n:,} bytes"


class ArchiveReader:
    """An open export zip whose names were checked; every read counts against the limits."""

    def __init__(self, zf: zipfile.ZipFile, label: str, limits: ArchiveLimits):
        self.zf, self.label, self.limits = zf, label, limits
        self.unpacked = 0
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise InvalidArchive(f"{label} holds too many files ({len(infos):,}).")
        for info in infos:
            _check_member(info)
        self.names = {info.filename for info in infos}
        if len(self.names) != len(infos):
            raise InvalidArchive(f"{label} holds the same file name twice; nothing was "
                                 "imported.")
        for info in infos:
            if info.filename != MANIFEST and info.file_size > limits.member_bytes:
                raise InvalidArchive(
                    f"{label}: {info.filename[:200]!r} unpacks to {_size(info.file_size)}, "
                    f"over the import limit of {_size(limits.member_bytes)} "
                    "(LONGHAND_MAX_UPLOAD_BYTES sets it); nothing was imported.")
        declared = sum(info.file_size for info in infos)
        if declared > limits.total_bytes:
            raise InvalidArchive(self._over_total(declared))
        if MANIFEST not in self.names:
            raise InvalidArchive(f"{label} is not a Longhand project export "
                                 f"(it has no {MANIFEST}).")
        self.manifest = parse_manifest(self._json(self.read(MANIFEST, limits.total_bytes)),
                                       label, self.names)
        recorded = sum(v.size_bytes for d in self.manifest.documents for v in d.versions)
        if recorded > limits.total_bytes:
            raise InvalidArchive(self._over_total(recorded))

    def _over_total(self, size: int) -> str:
        return (f"{self.label} unpacks to more than {_size(self.limits.total_bytes)} "
                f"({_size(size)}), the limit for an archive (LONGHAND_MAX_ARCHIVE_BYTES sets "
                "it); nothing was imported.")

    def read(self, name: str, limit: int) -> bytes:
        """The member's bytes, stopping as soon as it passes `limit` or the archive's total."""
        if name not in self.names:
            raise InvalidArchive(f"{self.label} is incomplete: {name!r} is missing.")
        chunks, size = [], 0
        try:
            with self.zf.open(name) as member:
                while chunk := member.read(1 << 20):
                    size += len(chunk)
                    self.unpacked += len(chunk)
                    if size > limit:
                        raise InvalidArchive(
                            f"{self.label}: {name!r} unpacks to more than {_size(limit)}, "
                            "more than it may hold; nothing was imported.")
                    if self.unpacked > self.limits.total_bytes:
                        raise InvalidArchive(self._over_total(self.unpacked))
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                RuntimeError, ValueError) as err:
            raise InvalidArchive(f"{self.label} is damaged ({name!r}: {err}).") from err
        return b"".join(chunks)

    def original(self, doc: DocumentEntry, ver: VersionEntry) -> bytes:
        limit = self.limits.member_bytes
        if ver.size_bytes > limit:
            raise InvalidArchive(
                f"{self.label}: {doc.filename} (version {ver.number}) is "
                f"{_size(ver.size_bytes)}, over the import limit of {_size(limit)} "
                "(LONGHAND_MAX_UPLOAD_BYTES sets it); nothing was imported.")
        data = self.read(ver.member, ver.size_bytes)
        if len(data) != ver.size_bytes or records.sha256_hex(data) != ver.sha256:
            raise InvalidArchive(f"{self.label} is damaged: {ver.member!r} does not match "
                                 "its recorded size and checksum.")
        return data

    def _json(self, raw: bytes) -> object:
        try:
            return json.loads(raw.decode("utf-8"))
        except RecursionError:
            raise InvalidArchive(f"{self.label}: {MANIFEST} is nested too deeply to be "
                                 "ours; nothing was imported.") from None
        except (UnicodeDecodeError, ValueError) as err:  # ValueError: also 5,000-digit ints
            raise InvalidArchive(f"{self.label}: {MANIFEST} is not valid JSON "
                                 f"({str(err)[:200]}).") from err


@contextmanager
def open_archive(path: Path, limits: ArchiveLimits) -> Iterator[ArchiveReader]:
    if not path.is_file():
        raise InvalidArchive(f"{path} does not exist or is not a file.")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError) as err:
        raise InvalidArchive(f"{path.name} is not a zip file or is damaged ({err}).") from err
    with zf:
        yield ArchiveReader(zf, path.name, limits)


def _field(obj: object, key: str, types: tuple, where: str) -> object:
    if not isinstance(obj, dict) or key not in obj:
        raise InvalidArchive(f"{MANIFEST}: {where} has no {key!r}.")
    value = obj[key]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise InvalidArchive(f"{MANIFEST}: {where}.{key} has the wrong type.")
    return value


def _text(obj: object, key: str, where: str) -> str:
    value = _field(obj, key, (str,), where)
    if len(value) > MAX_NAME_CHARS:
        raise InvalidArchive(f"{MANIFEST}: {where}.{key} is too long ({len(value):,} chars).")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArchive(f"{MANIFEST}: {where}.{key} is not valid Unicode text (it holds "
                             "a lone surrogate); nothing was imported.") from None
    return value


def _int(obj: object, key: str, low: int, high: int, where: str) -> int:
    value = _field(obj, key, (int,), where)
    if not low <= value <= high:
        raise InvalidArchive(f"{MANIFEST}: {where}.{key} is out of range "
                             f"({str(value)[:40]}).")
    return value


def _time(obj: object, key: str, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(_text(obj, key, where))
        if value.tzinfo is None:
            raise InvalidArchive(f"{MANIFEST}: {where}.{key} has no time zone.")
        return value.astimezone(timezone.utc)
    except (ValueError, OverflowError) as err:
        raise InvalidArchive(f"{MANIFEST}: {where}.{key} is not a date.") from err


def parse_manifest(data: object, label: str, members: set[str]) -> Manifest:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidArchive(f"{label} is not a Longhand project export.")
    version = data.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise InvalidArchive(f"{label} was written by a newer or unknown Longhand "
                             f"(format version {str(version)[:40]!r}).")
    project = _field(data, "project", (dict,), "root")
    raw_docs = _field(data, "documents", (list,), "root")
    used: set[str] = set()
    documents = [_document(doc, f"documents[{i}]", members, used)
                 for i, doc in enumerate(raw_docs)]
    return Manifest(name=_text(project, "name", "project"),
                    created_at=_time(project, "created_at", "project"), documents=documents)


def _document(doc: object, where: str, members: set[str], used: set[str]) -> DocumentEntry:
    role = _text(doc, "role", where)
    if role not in ROLES:
        raise InvalidArchive(f"{MANIFEST}: {where}.role is {role!r}, not one of {ROLES}.")
    raw = _field(doc, "versions", (list,), where)
    if not raw:
        raise InvalidArchive(f"{MANIFEST}: {where} has no versions.")
    versions = []
    for j, ver in enumerate(raw):
        at = f"{where}.versions[{j}]"
        number = _int(ver, "version", 1, MAX_VERSION, at)
        if versions and number <= versions[-1].number:
            raise InvalidArchive(f"{MANIFEST}: {at}.version is not after the one before it.")
        member = _text(ver, "original", at)
        if member not in members or member == MANIFEST or member in used:
            raise InvalidArchive(f"{MANIFEST}: {at}.original names no file of its own in "
                                 "the archive.")
        used.add(member)
        sha = _text(ver, "sha256", at)
        if not _SHA256.fullmatch(sha):
            raise InvalidArchive(f"{MANIFEST}: {at}.sha256 is not a checksum.")
        versions.append(VersionEntry(number, member, sha,
                                     _int(ver, "size_bytes", 0, 1 << 62, at),
                                     _time(ver, "imported_at", at)))
    return DocumentEntry(filename=_text(doc, "filename", where), role=role,
                         created_at=_time(doc, "created_at", where), versions=versions)


# -- restoring ----------------------------------------------------------------------------
@dataclass
class PreparedDocument:
    entry: DocumentEntry
    filename: str
    versions: list[tuple[int, records.VersionData]]


def prepare(reader: ArchiveReader, derive: Derive) -> list[PreparedDocument]:
    """Read and re-derive every version (no session: the caller writes them afterwards)."""
    prepared, names = [], set()
    for doc in reader.manifest.documents:
        versions, filename = [], doc.filename
        derived_for: dict[str, records.VersionData] = {}  # a restored version's bytes again
        for ver in doc.versions:
            data = reader.original(doc, ver)
            if ver.sha256 in derived_for:
                vd = dataclasses.replace(derived_for[ver.sha256], imported_at=ver.imported_at)
                versions.append((ver.number, vd))
                continue
            try:
                derived = derive(doc.filename, data)
                filename = derived.filename
                vd = records.version_data(derived.parsed, data, filename, derived.tokens)
            except UnsupportedDocument as err:
                raise InvalidArchive(f"{reader.label}: version {ver.number} of {err}; "
                                     "nothing was imported.") from err
            vd.imported_at = ver.imported_at
            derived_for[ver.sha256] = vd
            versions.append((ver.number, vd))
        if filename in names:
            raise InvalidArchive(f"{reader.label} holds two documents named {filename!r}; "
                                 "nothing was imported.")
        names.add(filename)
        prepared.append(PreparedDocument(doc, filename, versions))
    return prepared


def restore(s: Session, manifest: Manifest, documents: list[PreparedDocument],
            name: str) -> Project:
    """Write the prepared project under `name`; the caller owns the transaction."""
    project = Project(name=name, created_at=manifest.created_at)
    s.add(project)
    s.flush()
    for prepared in documents:
        first = prepared.versions[0][1]
        doc = Document(project_id=project.id, filename=prepared.filename, title=first.title,
                       kind=first.kind, format=first.format, role=prepared.entry.role,
                       created_at=prepared.entry.created_at)
        s.add(doc)
        s.flush()
        written: dict[str, Version] = {}  # sha256 -> the row holding that content
        for number, data in prepared.versions:
            if data.sha256 in written:  # a restored version: its content is stored once
                row = records.write_restored(s, doc, number, written[data.sha256])
                row.imported_at = data.imported_at or row.imported_at
            else:
                written[data.sha256] = records.write_version(s, doc, number, data)
    s.flush()
    return project
