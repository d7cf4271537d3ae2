"""Copying a whole library's rows to another database (`python -m workbench copy-library --to
URL`): an SQLite library moves to a PostgreSQL server with its ids, versions, jobs, artifacts,
adapters, trust results and comparisons as they are.

Why our own and not a generic dump tool: the target is built by our own migrations (so its
schema, collation and full-text index are the ones Longhand queries), the rows go through the
same SQLAlchemy tables that wrote them (JSON, UTC times and bytes come out as they went in),
and the copy is one transaction on the target under its write lock: it lands whole or not at
all. The target must be empty, so two libraries are never mixed; the source is read in one
read transaction, so it is a consistent snapshot even while the app keeps running. Sequences
are moved past the copied ids afterwards, so new rows on the server never collide.
The search index is not copied: the target derives it from the sections (generated column).
Does not know: what the rows mean, or the CLI.
"""
from __future__ import annotations

from sqlalchemy import Engine, func, insert, select, text

from workbench.errors import WorkbenchError
from workbench.library import db
from workbench.library.models import Base, load_model_modules

BATCH_ROWS = 500


def _tables():
    load_model_modules()
    return Base.metadata.sorted_tables  # parents before children: foreign keys hold throughout


def _row_counts(conn, tables) -> dict[str, int]:
    return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in tables}


def copy_rows(source: Engine, target_url: str) -> dict[str, int]:
    """Copy every table from `source` into the (empty) database at `target_url`, migrated
    to head first; returns rows per table, checked equal on both sides."""
    db.migrate(target_url)
    target = db.create_db_engine(target_url)
    tables = _tables()
    try:
        with source.connect() as src, target.execution_options(
                **{db.WRITE_OPTION: True}).connect() as dst, dst.begin():
            used = {name: n for name, n in _row_counts(dst, tables).items() if n}
            if used:
                raise WorkbenchError(
                    f"{db.describe(target_url)} already holds a library ({_listed(used)}); "
                    "copy-library only fills an empty database, so two libraries never mix.")
            with src.begin():
                counts = _row_counts(src, tables)
                for table in tables:
                    _copy_table(src, dst, table)
            copied = _row_counts(dst, tables)
            if copied != counts:
                raise WorkbenchError(f"copy-library counted {copied} rows on the target but "
                                     f"{counts} in the source; nothing was copied.")
            if db.is_postgres(target):
                _advance_sequences(dst, tables)
        return counts
    finally:
        target.dispose()


def _copy_table(src, dst, table) -> None:
    result = src.execution_options(yield_per=BATCH_ROWS).execute(
        select(table).order_by(*table.primary_key.columns))
    for batch in result.partitions():
        dst.execute(insert(table), [dict(row._mapping) for row in batch])


def _advance_sequences(dst, tables) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            sequence = dst.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                  {"t": table.name, "c": column.name})
            if sequence is not None:
                dst.execute(text(f'SELECT setval(:s, coalesce(max("{column.name}"), 0) + 1, '
                                 f'false) FROM "{table.name}"'), {"s": sequence})


def _listed(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
