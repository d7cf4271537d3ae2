"""The Workbench facade: the one Python API that the CLI, the UI and notebooks call.

Why: every front end needs the same few steps in the same order (read the bytes, check the
size, parse with the importers, count tokens with the embedded model's tokenizer, write the
batch to the library in one transaction). Keeping them here means the UI handlers and CLI
commands stay thin and behave identically.

Import policy: a batch is all or nothing. Every file is read and parsed before anything is
written; if any file is unreadable, unsupported, over the size limit or already in the project,
`ImportRejected` lists every problem, file by file, and the library is left unchanged.

Does not know: SQL (workbench/library owns the database), file formats (workbench/importers),
how a model runs (engine). Torch is never imported here; the tokenizer loads on first import.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Union

from workbench.config import Settings
from workbench.errors import (DuplicateDocument, ImportRejected, UnsupportedDocument,
                              WorkbenchError)
from workbench.importers.base import ROLES, ParsedDocument
from workbench.library.types import (DocumentInfo, ImportResult, ProjectInfo, SearchHit,
                                     SectionInfo)
from workbench.compare.api import CompareMixin
from workbench.synthesis.api import SynthesisMixin

ImportItem = Union[str, Path, tuple[str, bytes]]
Progress = Callable[[int, int, str], None]  # (files done, files total, current file name)
SHOW_KEYS = ("id", "title", "kind", "format", "version", "tokens", "stats")


@dataclass(frozen=True)
class _Prepared:
    filename: str
    data: bytes
    parsed: ParsedDocument
    tokens: int
    role: str = "draft"


class Workbench(SynthesisMixin, CompareMixin):
    """Projects, documents and search over one data directory."""

    def __init__(self, settings: Settings | None = None, *, data_dir: str | Path | None = None,
                 cache_dir: str | Path | None = None):
        settings = settings or Settings()
        self.settings = settings.with_overrides(
            data_dir=Path(data_dir).expanduser() if data_dir is not None else None,
            cache_dir=Path(cache_dir).expanduser() if cache_dir is not None else None)
        self._library = None
        self._remotes = None
        self._client_keys = None
        self._tokens = None
        self._library_lock = threading.Lock()
        self._tokens_lock = threading.Lock()  # held through a first-use conversion (~25 s)

    # -- lazily opened parts -------------------------------------------------------------
    @property
    def library(self):
        with self._library_lock:
            if self._library is None:
                from workbench.library import Library

                self.settings.data_dir.mkdir(parents=True, exist_ok=True)
                self._library = Library.open(self.settings.data_dir,
                                             self.settings.database_url)
            return self._library

    @property
    def remotes(self):
        """The library's remote models (workbench/remote_models.py), opened on first use."""
        library = self.library  # takes the same lock: outside it
        with self._library_lock:
            if self._remotes is None:
                from workbench.remote_models import RemoteModels

                self._remotes = RemoteModels(self.settings, library.remotes)
            return self._remotes

    @property
    def client_keys(self):
        """The library's API client keys (workbench/client_keys.py), opened on first use."""
        library = self.library  # takes the same lock: outside it
        with self._library_lock:
            if self._client_keys is None:
                from workbench.client_keys import ClientKeys

                self._client_keys = ClientKeys(library.keys)
            return self._client_keys

    @property
    def usage(self):
        """The HTTP API's usage rows (workbench/library/usage_store.py), opened on first use."""
        return self.library.usage

    def token_counter(self):
        """The embedded default model's tokenizer (converted from its GGUF once, then cached)."""
        with self._tokens_lock:
            if self._tokens is None:
                from engine.tokens import TokenCounter

                self._tokens = TokenCounter.for_embedded(self.settings.cache_dir)
            return self._tokens

    # -- projects ------------------------------------------------------------------------
    def projects(self) -> list[ProjectInfo]:
        return self.library.list_projects()

    def new_project(self, name: str) -> ProjectInfo:
        return self.library.create_project(name)

    def project(self, name: str) -> ProjectInfo:
        return self.library.get_project(name)

    # -- documents -----------------------------------------------------------------------
    def import_files(self, project: str, items: Iterable[ImportItem], role: str = "draft",
                     progress: Progress | None = None,
                     roles: Mapping[str, str] | None = None) -> list[ImportResult]:
        """Parse every file, then write them all in one transaction (or nothing, see above).

        `role` is every file's role unless `roles` names another for a file (by its name,
        e.g. {"interview.srt": "reference"}). The bytes of a document's older version are
        restored as its newest version (status "restored", `restored_from` the old number);
        the bytes of its latest version are refused as already there."""
        roles = dict(roles or {})
        for given in (role, *roles.values()):
            if given not in ROLES:
                raise WorkbenchError(
                    f"unknown role {given!r}: choose one of {', '.join(ROLES)}")
        self.project(project)  # ProjectNotFound before any parsing work
        items = list(items)
        if not items:
            raise WorkbenchError("no files to import")
        unknown = sorted(set(roles) - {_display_name(i) for i in items})
        if unknown:
            raise WorkbenchError(f"a role was given for {', '.join(unknown)}, which is not "
                                 "among the files to import")
        known = self._known_contents(project)
        prepared: list[_Prepared] = []
        problems: list[UnsupportedDocument] = []
        seen: dict[str, str] = {}
        for i, item in enumerate(items):
            name = _display_name(item)
            if progress:
                progress(i, len(items), name)
            try:
                prepared.append(self._prepare(item, known, seen, roles.get(name, role)))
            except UnsupportedDocument as exc:
                problems.append(exc)
        if problems:
            raise ImportRejected(problems)
        batch = [(p.parsed, p.data, p.filename, p.role, p.tokens) for p in prepared]
        try:
            results = self.library.add_documents(project, batch, new_only=True)
        except DuplicateDocument as exc:
            raise ImportRejected([UnsupportedDocument(str(exc))]) from exc
        if progress:
            progress(len(items), len(items), "")
        return results

    def _known_contents(self, project: str) -> dict[str, tuple[DocumentInfo, int]]:
        """sha256 of each document's latest version in the project -> (document, version);
        an older version's bytes are not here: importing them again restores them."""
        return {doc.sha256: (doc, doc.version) for doc in self.documents(project)}

    def _prepare(self, item: ImportItem, known: dict[str, tuple[DocumentInfo, int]],
                 seen: dict[str, str], role: str = "draft") -> _Prepared:
        from workbench.importers import parse_file, safe_filename

        filename, data = self._read(item)
        digest = hashlib.sha256(data).hexdigest()
        if digest in known:
            doc, version = known[digest]
            raise UnsupportedDocument(
                f"This file is already in the project as “{doc.title}” ({doc.filename}, "
                f"version {version}, its latest); the same content is never stored twice.",
                filename)
        if digest in seen:
            raise UnsupportedDocument(
                f"This file has the same content as {seen[digest]} in this batch.", filename)
        seen[digest] = filename
        parsed = parse_file(data, filename, self.settings.max_upload_bytes)
        tokens = self.token_counter().count(parsed.text)
        return _Prepared(safe_filename(filename), data, parsed, tokens, role)

    def _read(self, item: ImportItem) -> tuple[str, bytes]:
        limit = self.settings.max_upload_bytes
        if isinstance(item, tuple):
            name, data = item
            if len(data) > limit:
                raise UnsupportedDocument(_too_large(len(data), limit), name)
            return name, bytes(data)
        from workbench.importers.files import read_path

        path = Path(item).expanduser()
        return path.name, read_path(path, limit)  # never reads a device or a pipe

    def documents(self, project: str) -> list[DocumentInfo]:
        return self.library.documents(project)

    def document(self, document_id: int) -> DocumentInfo:
        return self.library.document(document_id)

    def sections(self, document_id: int, version: int | None = None) -> list[SectionInfo]:
        """A version's sections (the latest by default)."""
        return self.library.sections(document_id, version)

    def versions(self, document_id: int) -> list:
        """The document's history, oldest first (VersionInfo rows)."""
        return self.library.versions(document_id)

    def version_diff(self, document_id: int, older: int, newer: int) -> list:
        """Two versions of a document compared scene by scene (version_diff.SceneChange)."""
        from workbench.synthesis.version_diff import scene_diff

        return scene_diff(self.sections(document_id, older), self.sections(document_id, newer))

    def set_role(self, document_id: int, role: str) -> DocumentInfo:
        """Give a document another role (draft, notes, reference, style)."""
        return self.library.set_role(document_id, role)

    def delete_document(self, document_id: int) -> None:
        self.library.delete_document(document_id)

    def show(self, project: str) -> dict:
        """The `show --json` shape of DESIGN.md §4."""
        info = self.project(project)
        return {"project": info.name,
                "documents": [{key: getattr(d, key) for key in SHOW_KEYS}
                              for d in self.documents(project)]}

    def search(self, project: str, query: str, limit: int = 20) -> list[SearchHit]:
        query = (query or "").strip()
        if not query:
            raise WorkbenchError("type something to search for")
        return self.library.search(project, query, limit)

    # -- archives ------------------------------------------------------------------------
    def export(self, project: str, out: str | Path, overwrite: bool = False) -> Path:
        """The project as a zip at `out`; an existing file is replaced only with `overwrite`,
        the library's own files never."""
        return self.library.export_project(project, Path(out).expanduser(), overwrite)

    def import_project(self, archive: str | Path, name: str | None = None) -> ProjectInfo:
        """A project zip made by `export`, every original re-imported as an upload would be
        (same importers, size limit and token count); only names, roles, version order and
        dates come from the zip."""
        from workbench.library.archive import ArchiveLimits

        path = Path(archive).expanduser()
        if not path.is_file():
            raise WorkbenchError(f"{archive}: no such file")
        seen: dict[str, str] = {}
        limits = ArchiveLimits(self.settings.max_upload_bytes, self.settings.max_archive_bytes)
        return self.library.import_project(
            path, lambda filename, data: self._prepare((filename, data), {}, seen), name,
            limits=limits)

    def count_rows(self) -> dict[str, int]:
        return self.library.count_rows()


def _display_name(item: ImportItem) -> str:
    return item[0] if isinstance(item, tuple) else Path(item).name


def _too_large(size: int, limit: int) -> str:
    from workbench.importers.files import LIMIT_HINT
    from workbench.importers.sizes import over_limit

    return over_limit(size, limit) + LIMIT_HINT
