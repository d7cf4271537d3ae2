"""Whether an import batch may land, and what its files' bytes already are in the project.

Run inside the import's write transaction, under the lock (store.py), so two imports at once
end as they would one after the other. Bytes that are a document's latest version are already
there; bytes of an older version are a restore (records.write_restored) of that document,
whatever the file's name, so a batch may not also hold a new draft of that document.
Does not know: parsing, or how rows are written.
"""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.errors import UnsupportedDocument
from workbench.library.models import Document, Version


def batch_problems(s: Session, project_id: int, prepared: list,
                   new_only: bool) -> list[UnsupportedDocument]:
    """Every reason, file by file, why this batch may not land (read under the lock)."""
    problems: list[UnsupportedDocument] = []
    names: dict[str, str] = {}
    first: dict[str, int] = {}  # sha256 -> index of the first file with those bytes
    restoring: dict[str, str] = {}  # a document's filename -> the file restoring it
    stored = content_matches(s, project_id, [d.sha256 for d, _, _ in prepared])
    for i, (data, filename, _) in enumerate(prepared):
        earlier = first.setdefault(data.sha256, i)
        match = stored.get(data.sha256)
        lands = match[0].filename if match is not None and not match[2] else filename
        if lands != filename:
            restoring.setdefault(lands, filename)
        if names.get(filename, data.sha256) != data.sha256 and filename in restoring:
            problems.append(UnsupportedDocument(
                f"{restoring[filename]} in this batch holds an older version of "
                f"“{filename}”, and this file is a new version of it too; import them in "
                "separate batches.", filename))
        elif names.setdefault(filename, data.sha256) != data.sha256:
            problems.append(UnsupportedDocument(
                f"Another file in this batch has the same name “{filename}” but different "
                "content; a name is how a new draft finds its document, so rename one of "
                "them or import them in separate batches.", filename))
        elif lands != filename and names.setdefault(lands, data.sha256) != data.sha256:
            problems.append(UnsupportedDocument(
                f"This file holds an older version of “{lands}”, and another file of this "
                f"batch is a new version of “{lands}” too; import them in separate "
                "batches.", filename))
        elif new_only and earlier != i:
            problems.append(UnsupportedDocument(
                f"This file has the same content as {prepared[earlier][1]} in this batch.",
                filename))
    if not new_only:
        return problems
    for sha, i in first.items():
        if sha in stored and stored[sha][2]:
            doc, ver, _ = stored[sha]
            problems.append(UnsupportedDocument(
                f"This file is already in the project as “{doc.title}” ({doc.filename}, "
                f"version {ver.version}, its latest); the same content is never stored "
                "twice.", prepared[i][1]))
    return problems

def content_matches(s: Session, project_id: int,
                    shas: Sequence[str]) -> dict[str, tuple[Document, Version, bool]]:
    """sha256 -> (document, its newest version with those bytes, whether that is the
    document's latest version) for bytes already stored in the project; a document whose
    latest version holds them wins over one where they are an older version."""
    latest = (select(Version.document_id, func.max(Version.version).label("n"))
              .group_by(Version.document_id).subquery())
    rows = s.execute(
        select(Document, Version, latest.c.n)
        .join(Version, Version.document_id == Document.id)
        .join(latest, latest.c.document_id == Document.id)
        .where(Document.project_id == project_id,
               Version.sha256.in_(list(dict.fromkeys(shas))))).all()
    found: dict[str, tuple[Document, Version, bool]] = {}
    for doc, ver, n in sorted(rows, key=lambda r: (r[1].version != r[2], -r[1].id)):
        found.setdefault(ver.sha256, (doc, ver, ver.version == n))
    return found
