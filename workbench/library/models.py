"""The library's ORM tables (SQLAlchemy 2, typed) and the declarative `Base` every table uses.

Owns: projects, documents, versions (original bytes + parsed text) and sections. The FTS5 index
over sections and its sync triggers are plain SQL in the first migration: FTS5 has no ORM form.
Other modules add tables by declaring models on this `Base` in a sibling `*_models.py`
module (e.g. `jobs_models.py`); `load_model_modules()` imports them so Alembic sees one metadata.
Schema changes go through migrations in `migrations/versions/`, never `create_all`.
Does not know: importers, the UI, or how rows become the dataclasses in `types.py`.
"""
from __future__ import annotations

import importlib
import pkgutil
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, CheckConstraint, DateTime, Float, ForeignKey, Integer,
                        LargeBinary, MetaData, String, Text, TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from workbench.importers.base import KINDS, ROLES

PROJECT_NAME_MAX = 100
# Constraint names follow a convention so later batch migrations on SQLite can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC text (SQLite has no time zones), handed out timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NOCASE: "Draft" and "draft" are the same project to a writer.
    name: Mapped[str] = mapped_column(String(PROJECT_NAME_MAX, collation="NOCASE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Document(Base):
    """A file in a project, identified by its filename; its content lives in `Version` rows.

    title/kind/format mirror the latest version so listings need no join."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("project_id", "filename"),
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(_in("role", ROLES), name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Version(Base):
    """One imported state of a document. `original` keeps the exact bytes so nothing is lost;
    the heavy columns are deferred so listings never load them.

    A restored version (the bytes of an older version imported again) holds no content of its
    own: `content_version_id` names the row whose original, text and sections it shares, and
    its own `original`/`text` are empty (migration 0010)."""

    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("document_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(_in("kind", KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    original: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    text: Mapped[str] = mapped_column(Text, deferred=True)
    stats: Mapped[dict] = mapped_column(JSON)
    doc_metadata: Mapped[dict] = mapped_column("metadata", JSON)
    tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    content_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    @property
    def content_id(self) -> int:
        """The id of the row that holds this version's original, text and sections."""
        return self.content_version_id or self.id


class Section(Base):
    """A citable piece of a version (scene, cue, page, paragraph); indexed by `sections_fts`."""

    __tablename__ = "sections"
    __table_args__ = (
        UniqueConstraint("version_id", "ordinal"),
        CheckConstraint("length(anchor) > 0", name="anchor_not_empty"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    anchor: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    heading: Mapped[str | None] = mapped_column(Text, nullable=True)
    number: Mapped[str | None] = mapped_column(Text, nullable=True)
    start_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    speaker: Mapped[str | None] = mapped_column(Text, nullable=True)
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    meta: Mapped[dict] = mapped_column(JSON)


FTS_TABLE = "sections_fts"
PG_SEARCH_COLUMN, PG_SEARCH_INDEX = "search", "ix_sections_search"  # PostgreSQL's FTS (0001)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic autogenerate filter: the FTS5 table and its shadow tables, and PostgreSQL's
    generated search column and its index, are migration-owned."""
    if type_ == "table" and name is not None and name.startswith(FTS_TABLE):
        return False
    if type_ == "index" and name == PG_SEARCH_INDEX:
        return False
    table = parent_names.get("table_name") if isinstance(parent_names, dict) else None
    return not (type_ == "column" and name == PG_SEARCH_COLUMN and table == "sections")


def load_model_modules() -> None:
    """Import every sibling `*_models` module so their tables join `Base.metadata`."""
    package = __name__.rpartition(".")[0]
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.name.endswith("_models"):
            importlib.import_module(f"{package}.{info.name}")
