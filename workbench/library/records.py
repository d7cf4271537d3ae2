"""Rows in, dataclasses out: writing one version of a document and reading rows back as the
plain types in `types.py`.

Shared by the import path (store.py) and the archive path (archive.py), so a document written
from an importer and one restored from a zip land in exactly the same rows.
Does not know: sessions' lifetimes, transactions, or where bytes came from.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.errors import InvalidRole, UnsupportedDocument
from workbench.importers.base import KINDS, ROLES, ParsedDocument
from workbench.importers.base import Section as ParsedSection
from workbench.library.models import Document, Section, Version
from workbench.library.types import DocumentInfo, SectionInfo, VersionInfo

# Sections go in by slices: one executemany over every cue of a 40 MB transcript made
# SQLAlchemy hold a processed copy of all its parameters at once.
INSERT_BATCH = 2000
SECTION_FIELDS = ("ordinal", "kind", "anchor", "text", "heading", "number", "start_s", "end_s",
                  "speaker", "page", "meta")


@dataclass
class VersionData:
    """Everything one version row and its sections hold, independent of where it came from."""

    title: str
    kind: str
    format: str
    text: str
    original: bytes
    stats: dict
    metadata: dict
    tokens: int | None
    sections: Sequence[dict]  # a list, or SectionRows made on the fly
    imported_at: datetime | None = None
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.original).hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidRole(f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.")
    return role


def check_kind(kind: str, filename: str) -> str:
    if kind not in KINDS:
        raise UnsupportedDocument(
            f"unknown document kind {kind!r} (expected one of {', '.join(KINDS)})", filename)
    return kind


def _json_value(value: object, what: str, filename: str) -> dict:
    """A JSON-safe copy (tuples become lists), or a clear error instead of a failed flush."""
    try:
        return json.loads(json.dumps(value if value is not None else {}))
    except (TypeError, ValueError) as exc:
        raise UnsupportedDocument(f"its {what} cannot be stored as JSON ({exc})",
                                  filename) from exc


class SectionRows(Sequence):
    """An importer's sections as row dicts, made a slice at a time as they are written.

    Why: a dict per section, for every cue of a large transcript, doubled what the import
    held; the section details (`meta`) are still checked up front, before any write.
    """

    def __init__(self, sections: Sequence[ParsedSection], filename: str):
        self._sections = sections
        self._metas = {i: _json_value(s.meta, "section details", filename)
                       for i, s in enumerate(sections) if s.meta}

    def __len__(self) -> int:
        return len(self._sections)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._row(i) for i in range(*index.indices(len(self)))]
        return self._row(range(len(self))[index])

    def _row(self, i: int) -> dict:
        s = self._sections[i]
        return {"ordinal": s.ordinal, "kind": s.kind, "anchor": s.anchor, "text": s.text,
                "heading": s.heading, "number": s.number, "start_s": s.start_s,
                "end_s": s.end_s, "speaker": s.speaker, "page": s.page,
                "meta": self._metas.get(i, {})}


def version_data(parsed: ParsedDocument, data: bytes, filename: str,
                 tokens: int | None) -> VersionData:
    check_kind(parsed.kind, filename)
    sections = SectionRows(parsed.sections, filename)
    return VersionData(
        title=parsed.title, kind=parsed.kind, format=parsed.format, text=parsed.text,
        original=bytes(data), stats=_json_value(parsed.stats, "statistics", filename),
        metadata=_json_value(parsed.metadata, "metadata", filename), tokens=tokens,
        sections=sections)


def write_version(session: Session, doc: Document, number: int, data: VersionData) -> Version:
    """Insert one version and its sections; the FTS triggers index them in this transaction."""
    row = Version(document_id=doc.id, version=number, title=data.title, kind=data.kind,
                  format=data.format, sha256=data.sha256, size_bytes=len(data.original),
                  original=data.original, text=data.text, stats=data.stats,
                  doc_metadata=data.metadata, tokens=data.tokens)
    if data.imported_at is not None:
        row.imported_at = data.imported_at
    session.add(row)
    session.flush()
    for start in range(0, len(data.sections), INSERT_BATCH):
        session.execute(Section.__table__.insert(),
                        [{"version_id": row.id, **s}
                         for s in data.sections[start:start + INSERT_BATCH]])
    doc.title, doc.kind, doc.format = data.title, data.kind, data.format
    session.flush()
    return row


def write_restored(session: Session, doc: Document, number: int, source: Version) -> Version:
    """Insert version `number` of `doc` as the content of `source` again, stored once.

    Why a pointer and not a copy: the new row shares the original, text and sections of the
    row that holds them (`content_version_id`), so nothing is stored twice, search keeps one
    hit per section (it searches the sections of the latest version's content row), and a
    citation of a section (its id and anchor) made against the old version stays valid for
    the restored one. The small columns (title, stats, tokens, checksum) are copied so
    listings need no second lookup."""
    row = Version(document_id=doc.id, version=number, title=source.title, kind=source.kind,
                  format=source.format, sha256=source.sha256, size_bytes=source.size_bytes,
                  original=b"", text="", stats=dict(source.stats),
                  doc_metadata=dict(source.doc_metadata), tokens=source.tokens,
                  content_version_id=source.content_id)
    session.add(row)
    doc.title, doc.kind, doc.format = source.title, source.kind, source.format
    session.flush()
    return row


def latest_version(session: Session, doc_id: int) -> Version | None:
    return session.scalars(select(Version).where(Version.document_id == doc_id)
                           .order_by(Version.version.desc()).limit(1)).first()


def next_version_number(session: Session, doc_id: int) -> int:
    current = session.scalar(select(func.max(Version.version))
                             .where(Version.document_id == doc_id))
    return (current or 0) + 1


def document_info(doc: Document, ver: Version) -> DocumentInfo:
    return DocumentInfo(
        id=doc.id, project_id=doc.project_id, title=doc.title, filename=doc.filename,
        kind=doc.kind, format=doc.format, role=doc.role, version=ver.version,
        version_id=ver.id, sha256=ver.sha256, size_bytes=ver.size_bytes, tokens=ver.tokens,
        stats=dict(ver.stats), metadata=dict(ver.doc_metadata), imported_at=ver.imported_at)


def version_info(ver: Version, restored_from: int | None = None) -> VersionInfo:
    return VersionInfo(id=ver.id, document_id=ver.document_id, version=ver.version,
                       sha256=ver.sha256, size_bytes=ver.size_bytes, tokens=ver.tokens,
                       stats=dict(ver.stats), imported_at=ver.imported_at,
                       restored_from=restored_from)


def section_info(sec: Section, document_id: int) -> SectionInfo:
    return SectionInfo(
        id=sec.id, version_id=sec.version_id, document_id=document_id, ordinal=sec.ordinal,
        kind=sec.kind, anchor=sec.anchor, text=sec.text, heading=sec.heading,
        number=sec.number, start_s=sec.start_s, end_s=sec.end_s, speaker=sec.speaker,
        page=sec.page, meta=dict(sec.meta))


def section_dict(sec: Section) -> dict:
    return {name: getattr(sec, name) for name in SECTION_FIELDS}
