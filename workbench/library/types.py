"""Plain dataclasses the library hands out; nothing outside `workbench/library/` sees ORM rows."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    name: str
    created_at: datetime
    document_count: int = 0


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    project_id: int
    title: str
    filename: str
    kind: str
    format: str
    role: str
    version: int  # latest version number (1-based)
    version_id: int  # id of that version row
    sha256: str
    size_bytes: int
    tokens: int | None
    stats: dict
    metadata: dict = field(default_factory=dict)
    imported_at: datetime | None = None


@dataclass(frozen=True)
class VersionInfo:
    id: int
    document_id: int
    version: int
    sha256: str
    size_bytes: int
    tokens: int | None
    stats: dict
    imported_at: datetime
    restored_from: int | None = None  # the older version whose content this one restores


@dataclass(frozen=True)
class SectionInfo:
    id: int
    version_id: int
    document_id: int
    ordinal: int
    kind: str
    anchor: str
    text: str
    heading: str | None = None
    number: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    speaker: str | None = None
    page: int | None = None
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    document_id: int
    document_title: str
    section_id: int
    anchor: str
    snippet: str
    rank: float


@dataclass(frozen=True)
class ImportResult:
    document: DocumentInfo
    status: str  # "created" | "new_version" | "restored" | "duplicate"
    restored_from: int | None = None  # "restored": the version number whose bytes came back
