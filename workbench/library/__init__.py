"""The project library: SQLite via SQLAlchemy 2, migrated by Alembic, and the only code in
Longhand that touches the database. Callers use `Library` and get the dataclasses below."""
from workbench.library.store import ImportItem, Library
from workbench.library.types import (DocumentInfo, ImportResult, ProjectInfo, SearchHit,
                                     SectionInfo, VersionInfo)

__all__ = ["DocumentInfo", "ImportItem", "ImportResult", "Library", "ProjectInfo", "SearchHit",
           "SectionInfo", "VersionInfo"]
