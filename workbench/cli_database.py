"""CLI commands for where the library's rows live: `migrate` and `copy-library --to URL`;
registered into workbench/cli.py's parser by `add_commands(command)`.

    migrate                 bring the library's database (LONGHAND_DATABASE_URL, else the data
                            dir's SQLite file) to the newest schema and say its revision
    copy-library --to URL   copy every row of this library into an empty PostgreSQL database;
                            then run with LONGHAND_DATABASE_URL=URL (the data dir keeps the files)

Does not know SQL: it calls the Workbench's Library (workbench/library/transfer.py copies).
"""
from __future__ import annotations

from typing import Any

from workbench.library.db import describe


def add_commands(command) -> None:
    command("migrate", cmd_migrate,
            "bring the library's database to the newest schema (also done on every start)")
    p = command("copy-library", cmd_copy_library,
                "copy this library's rows into an empty PostgreSQL database")
    p.add_argument("--to", required=True, metavar="URL",
                   help="postgresql+psycopg://USER:PASSWORD@HOST/DB (an empty database)")


def cmd_migrate(wb, args) -> tuple[Any, str]:
    library = wb.library  # opening it migrates to head
    where, revision = describe(library.database), library.schema_revision()
    return ({"database": where, "revision": revision},
            f"library at {where} is at revision {revision}")


def cmd_copy_library(wb, args) -> tuple[Any, str]:
    library = wb.library
    counts = library.copy_to(args.to)
    where = describe(args.to)
    rows = sum(counts.values())
    return ({"from": describe(library.database), "to": where, "rows": counts},
            f"copied {rows} rows ({counts.get('projects', 0)} projects, "
            f"{counts.get('documents', 0)} documents) to {where}; use it with "
            f"LONGHAND_DATABASE_URL and the same --data-dir")
