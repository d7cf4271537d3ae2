"""`Library`: the one object the rest of Longhand uses to read and write projects and documents.

It owns the database engine (the data dir's SQLite file, or the PostgreSQL server named by
`database_url`) and every store over it (`jobs`, `adapters`, `trust`, `remotes`,
`comparisons`): one connection pool per process, migrated once by `Library.open`, never per call.

Every public method opens its own session and returns plain dataclasses, so one Library can be
shared by the Gradio UI and background job threads. Each write is one transaction (BEGIN
IMMEDIATE, see db.py): a batch import either lands whole or not at all. The checks that decide
whether a batch may land (content already in the project, two different files under one name)
run inside that transaction, under the write lock, so two imports at once end exactly as the
same two imports one after the other; a writer that waited out the busy timeout is told the
library is busy (`LibraryBusy`) instead of seeing "database is locked".
Does not know: file formats (importers hand over a ParsedDocument), the UI, or job state.
"""
from __future__ import annotations

import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from sqlalchemy import delete, exc, func, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from workbench.errors import (DocumentNotFound, ImportRejected, InvalidArchive,
                              InvalidProjectName, LibraryBusy, ProjectExists, ProjectNotFound,
                              UnsupportedDocument)
from workbench.importers.base import ParsedDocument
from workbench.library import archive, batches, db, fts, outputs, records, transfer
from workbench.library.stores import LibraryStores
from workbench.library.models import PROJECT_NAME_MAX, Document, Project, Section, Version
from workbench.library.types import (DocumentInfo, ImportResult, ProjectInfo, SearchHit,
                                     SectionInfo, VersionInfo)

ProjectRef = str | int | ProjectInfo
ImportItem = tuple[ParsedDocument, bytes, str, str | None, int | None]
DB_FILENAME = "workbench.db"


def check_project_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        raise InvalidProjectName("A project needs a name.")
    if len(cleaned) > PROJECT_NAME_MAX:
        raise InvalidProjectName(
            f"Project names can be at most {PROJECT_NAME_MAX} characters "
            f"(this one has {len(cleaned)}).")
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise InvalidProjectName("Project names cannot contain control characters.")
    return cleaned


class Library(LibraryStores):
    def __init__(self, data_dir: Path, database_url: str | None = None):
        """`database_url` (a PostgreSQL URL) puts the rows on a server; the data dir keeps the
        files either way (adapters, prefix cache, exports)."""
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / DB_FILENAME
        self.database: db.Target = database_url or self.db_path
        self.files = outputs.LibraryFiles(self.data_dir, self.db_path)
        self._engine = db.create_db_engine(self.database)
        self._read = sessionmaker(self._engine, expire_on_commit=False)
        self._write = sessionmaker(
            self._engine.execution_options(**{db.WRITE_OPTION: True}), expire_on_commit=False)

    @classmethod
    def open(cls, data_dir: Path, database_url: str | None = None) -> Library:
        """Create the data dir (and SQLite file) if needed and migrate to the newest schema."""
        data_dir = Path(data_dir).expanduser()
        data_dir.mkdir(parents=True, exist_ok=True)
        db.migrate(database_url or data_dir / DB_FILENAME)
        return cls(data_dir, database_url)

    @property
    def engine(self):
        return self._engine

    @property
    def on_postgres(self) -> bool:
        return db.is_postgres(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def schema_revision(self) -> str:
        """The database's Alembic revision (`python -m workbench migrate` reports it)."""
        return ", ".join(sorted(db.current_revisions(self._engine))) or "empty"

    def copy_to(self, database_url: str) -> dict[str, int]:
        """Copy every row of this library into the empty database at `database_url` (one
        transaction, see transfer.py); returns rows per table."""
        return transfer.copy_rows(self._engine, database_url)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One write transaction; committed on success, rolled back on any exception."""
        try:
            with self._write() as session, session.begin():
                yield session
        except exc.OperationalError as err:
            if not db.is_busy(err):
                raise
            raise LibraryBusy(
                f"The library is busy with another write (an import or a job in another "
                f"window) for over {db.BUSY_TIMEOUT_S:.0f} s; nothing was changed, try again "
                "in a moment.") from err

    # -- projects -------------------------------------------------------------------------
    def create_project(self, name: str) -> ProjectInfo:
        name = check_project_name(name)
        try:
            with self.writing() as s:
                if s.scalar(select(Project.id).where(Project.name == name)) is not None:
                    raise ProjectExists(f"A project named {name!r} already exists.")
                row = Project(name=name)
                s.add(row)
                s.flush()
                return ProjectInfo(id=row.id, name=row.name, created_at=row.created_at)
        except exc.IntegrityError as err:  # another thread created it between check and insert
            raise ProjectExists(f"A project named {name!r} already exists.") from err

    def list_projects(self) -> list[ProjectInfo]:
        with self.reading() as s:
            rows = s.execute(
                select(Project, func.count(Document.id))
                .outerjoin(Document, Document.project_id == Project.id)
                .group_by(Project.id).order_by(Project.name)).all()
            return [self._project_info(p, n) for p, n in rows]

    def get_project(self, name_or_id: ProjectRef) -> ProjectInfo:
        with self.reading() as s:
            row = self._project_row(s, name_or_id)
            count = s.scalar(select(func.count(Document.id))
                             .where(Document.project_id == row.id)) or 0
            return self._project_info(row, count)

    def delete_project(self, name_or_id: ProjectRef) -> None:
        with self.writing() as s:
            row = self._project_row(s, name_or_id)
            s.execute(delete(Project).where(Project.id == row.id))

    # -- documents ------------------------------------------------------------------------
    def add_document(self, project: ProjectRef, parsed: ParsedDocument, data: bytes,
                     filename: str, role: str | None = None,
                     tokens: int | None = None) -> ImportResult:
        """Store one imported file. Bytes that are a document's latest version are a
        "duplicate" (nothing written); bytes of an older version are "restored" (a new latest
        version that shares the old one's content); a known filename with new content is a
        "new_version"; else "created". `role` defaults to "draft" for a new document and to
        the document's current role for a new version."""
        return self.add_documents(project, [(parsed, data, filename, role, tokens)])[0]

    def add_documents(self, project: ProjectRef, items: Sequence[ImportItem], *,
                      new_only: bool = False) -> list[ImportResult]:
        """Store several files in one transaction: all of them, or none if any fails.

        Two different files under one name in one batch are refused (ImportRejected): the
        second would silently become a new version of the first. With `new_only`, a file
        whose bytes are already in the project, or repeat another file of the batch, refuses
        the batch too instead of being reported as a "duplicate"; bytes of an older version
        are restored either way."""
        prepared = []
        for parsed, data, filename, role, tokens in items:
            if role is not None:
                records.check_role(role)
            prepared.append((records.version_data(parsed, data, filename, tokens),
                             filename, role))
        with self.writing() as s:
            project_id = self._project_row(s, project).id
            problems = batches.batch_problems(s, project_id, prepared, new_only)
            if problems:
                raise ImportRejected(problems)
            results = []
            for data, filename, role in prepared:
                try:
                    results.append(self._store(s, project_id, data, filename, role))
                except (exc.IntegrityError, exc.DataError) as err:  # DataError: PostgreSQL
                    raise UnsupportedDocument(
                        f"could not be stored, so nothing of this batch was imported "
                        f"({err.orig})", filename) from err
            return results

    def _store(self, s: Session, project_id: int, data: records.VersionData, filename: str,
               role: str | None) -> ImportResult:
        """Bytes that are a document's latest version: "duplicate", nothing written. Bytes of
        an older version: "restored", a new latest version sharing that version's content
        (records.write_restored), whatever the file's name."""
        match = batches.content_matches(s, project_id, [data.sha256]).get(data.sha256)
        if match is not None:
            doc, ver, is_latest = match
            if is_latest:
                return ImportResult(self._doc_info(s, doc), "duplicate")
            if role is not None:
                doc.role = role
            row = records.write_restored(s, doc, records.next_version_number(s, doc.id), ver)
            source = s.get(Version, ver.content_id)
            return ImportResult(records.document_info(doc, row), "restored",
                                restored_from=source.version)
        doc = s.scalars(select(Document).where(Document.project_id == project_id,
                                               Document.filename == filename)).first()
        status = "new_version"
        if doc is None:
            status = "created"
            doc = Document(project_id=project_id, filename=filename, title=data.title,
                           kind=data.kind, format=data.format, role=role or "draft")
            s.add(doc)
            s.flush()
        elif role is not None:
            doc.role = role
        ver = records.write_version(s, doc, records.next_version_number(s, doc.id), data)
        return ImportResult(records.document_info(doc, ver), status)

    def documents(self, project: ProjectRef) -> list[DocumentInfo]:
        """The project's documents at their latest version, in import order."""
        with self.reading() as s:
            project_id = self._project_row(s, project).id
            latest = (select(Version.document_id, func.max(Version.version).label("n"))
                      .group_by(Version.document_id).subquery())
            rows = s.execute(
                select(Document, Version)
                .join(latest, latest.c.document_id == Document.id)
                .join(Version, (Version.document_id == Document.id)
                      & (Version.version == latest.c.n))
                .where(Document.project_id == project_id).order_by(Document.id)).all()
            return [records.document_info(d, v) for d, v in rows]

    def document(self, doc_id: int) -> DocumentInfo:
        with self.reading() as s:
            return self._doc_info(s, self._doc_row(s, doc_id))

    def versions(self, doc_id: int) -> list[VersionInfo]:
        with self.reading() as s:
            self._doc_row(s, doc_id)
            rows = s.scalars(select(Version).where(Version.document_id == doc_id)
                             .order_by(Version.version)).all()
            numbers = {v.id: v.version for v in rows}
            return [records.version_info(v, numbers[v.content_version_id]
                                         if v.content_version_id else None) for v in rows]

    def sections(self, doc_id: int, version: int | None = None) -> list[SectionInfo]:
        with self.reading() as s:
            ver = self._version_row(s, doc_id, version)
            rows = s.scalars(select(Section).where(Section.version_id == ver.content_id)
                             .order_by(Section.ordinal))
            return [records.section_info(r, doc_id) for r in rows]

    def section_by_anchor(self, doc_id: int, anchor: str,
                          version: int | None = None) -> SectionInfo | None:
        """The first section (by position) carrying `anchor`, in the latest version by default."""
        with self.reading() as s:
            ver = self._version_row(s, doc_id, version)
            row = s.scalars(select(Section).where(Section.version_id == ver.content_id,
                                                  Section.anchor == anchor)
                            .order_by(Section.ordinal).limit(1)).first()
            return None if row is None else records.section_info(row, doc_id)

    def original_bytes(self, doc_id: int, version: int | None = None) -> bytes:
        with self.reading() as s:
            ver = self._version_row(s, doc_id, version)
            return s.scalar(select(Version.original).where(Version.id == ver.content_id))

    def text(self, doc_id: int, version: int | None = None) -> str:
        """The parsed, readable text of a version (latest by default)."""
        with self.reading() as s:
            ver = self._version_row(s, doc_id, version)
            return s.scalar(select(Version.text).where(Version.id == ver.content_id))

    def set_role(self, doc_id: int, role: str) -> DocumentInfo:
        """Change a document's role (draft, notes, reference, style); versions keep theirs."""
        records.check_role(role)
        with self.writing() as s:
            doc = self._doc_row(s, doc_id)
            doc.role = role
            s.flush()
            return self._doc_info(s, doc)

    def delete_document(self, doc_id: int) -> None:
        with self.writing() as s:
            self._doc_row(s, doc_id)
            s.execute(delete(Document).where(Document.id == doc_id))

    # -- search, counts, archives ---------------------------------------------------------
    def search(self, project: ProjectRef, query: str, limit: int = 20) -> list[SearchHit]:
        with self.reading() as s:
            return fts.search(s, self._project_row(s, project).id, query, limit)

    def rank_sections(self, section_ids: Sequence[int], words: Sequence[str],
                      limit: int = 3) -> list[tuple[int, float]]:
        """BM25 ranking of the given sections (any version) against `words`, best first."""
        with self.reading() as s:
            return fts.rank_sections(s, list(section_ids), list(words), limit)

    def count_rows(self) -> dict[str, int]:
        """Rows per table (FTS index rows under `sections_fts`), to prove nothing changed."""
        if self.on_postgres:
            return self._count_rows_postgres()
        with self.reading() as s:
            names = s.scalars(text(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE "
                "'CREATE VIRTUAL%' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE "
                "'sections_fts_%' AND name != 'alembic_version' ORDER BY name")).all()
            counts = {n: s.scalar(text(f'SELECT count(*) FROM "{n}"')) for n in names}
            counts["sections_fts"] = s.scalar(text("SELECT count(*) FROM sections_fts_docsize"))
            return counts

    def _count_rows_postgres(self) -> dict[str, int]:
        with self.reading() as s:
            names = sorted(n for n in inspect(s.connection()).get_table_names()
                           if n != "alembic_version")
            counts = {n: s.scalar(text(f'SELECT count(*) FROM "{n}"')) for n in names}
            counts["sections_fts"] = s.scalar(text(
                "SELECT count(*) FROM sections WHERE search IS NOT NULL"))
            return counts

    def export_project(self, project: ProjectRef, out_path: Path,
                       overwrite: bool = False) -> Path:
        """Write the project (originals + all versions, sections, roles as JSON) to a zip.
        Never over the library's own files; over an existing file only with `overwrite`."""
        target = self.files.check_target(out_path, overwrite)
        with self.reading() as s:
            row = self._project_row(s, project)
            with outputs.atomic_output(target, overwrite) as handle:
                archive.export_project(s, row, handle)
        return target

    def write_output(self, out_path: Path, data: bytes, overwrite: bool = False) -> Path:
        """Write `data` to a file the user named, with the same guards as an export."""
        target = self.files.check_target(out_path, overwrite)
        with outputs.atomic_output(target, overwrite) as handle:
            handle.write(data)
        return target

    def import_project(self, zip_path: Path, derive: archive.Derive, name: str | None = None,
                       *, limits: archive.ArchiveLimits = archive.ArchiveLimits()
                       ) -> ProjectInfo:
        """Restore an exported project (under `name` if given) in one transaction; every
        version is re-derived from its original by `derive` (see archive.py)."""
        zip_path = Path(zip_path)
        with archive.open_archive(zip_path, limits) as reader:
            project_name = check_project_name(name if name is not None
                                              else reader.manifest.name)
            self._refuse_existing(project_name)  # before the parsing work
            documents = archive.prepare(reader, derive)
        try:
            with self.writing() as s:
                self._refuse_existing(project_name, s)
                row = archive.restore(s, reader.manifest, documents, project_name)
                return ProjectInfo(id=row.id, name=row.name, created_at=row.created_at,
                                   document_count=len(documents))
        except (exc.IntegrityError, exc.DataError, OverflowError) as err:
            raise InvalidArchive(
                f"{zip_path.name}: its contents contradict each other "
                f"({getattr(err, 'orig', err)}); nothing was imported.") from err

    def _refuse_existing(self, name: str, s: Session | None = None) -> None:
        if s is None:
            with self.reading() as s:
                return self._refuse_existing(name, s)
        if s.scalar(select(Project.id).where(Project.name == name)) is not None:
            raise ProjectExists(f"A project named {name!r} already exists; import it under "
                                "another name.")

    # -- lookups --------------------------------------------------------------------------
    @staticmethod
    def _project_info(row: Project, count: int) -> ProjectInfo:
        return ProjectInfo(id=row.id, name=row.name, created_at=row.created_at,
                           document_count=count)

    @staticmethod
    def _project_row(s: Session, ref: ProjectRef) -> Project:
        if isinstance(ref, ProjectInfo):
            ref = ref.id
        row = None
        if isinstance(ref, str):
            row = s.scalars(select(Project).where(Project.name == ref.strip())).first()
            if row is None and ref.strip().isdigit():
                row = s.get(Project, int(ref.strip()))
        elif isinstance(ref, int):
            row = s.get(Project, ref)
        if row is None:
            raise ProjectNotFound(f"No project named or numbered {ref!r}.")
        return row

    @staticmethod
    def _doc_row(s: Session, doc_id: int) -> Document:
        row = s.get(Document, doc_id)
        if row is None:
            raise DocumentNotFound(f"No document with id {doc_id}.")
        return row

    def _doc_info(self, s: Session, doc: Document) -> DocumentInfo:
        return records.document_info(doc, records.latest_version(s, doc.id))

    def _version_row(self, s: Session, doc_id: int, version: int | None) -> Version:
        self._doc_row(s, doc_id)
        if version is None:
            return records.latest_version(s, doc_id)
        row = s.scalars(select(Version).where(Version.document_id == doc_id,
                                              Version.version == version)).first()
        if row is None:
            raise DocumentNotFound(f"Document {doc_id} has no version {version}.")
        return row
