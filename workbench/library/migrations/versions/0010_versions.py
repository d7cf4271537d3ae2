"""Restored versions: re-importing the bytes of an older version of a document makes that
content the newest version again. The new version row points at the row that holds the
content (`content_version_id`) instead of storing the original, the text and the sections a
second time; NULL means the row holds its own content.

A plain integer column, no foreign key: on SQLite adding a constraint means rebuilding
`versions`, and dropping the old table would cascade into `sections` and the FTS index.
Versions are only ever deleted with their whole document (ON DELETE CASCADE from
`documents`), so a pointer never outlives the row it points at.

Revision ID: 0010_versions
Revises: 0009_workers
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_versions"
down_revision = "0009_workers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("versions", sa.Column("content_version_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Give every restored row its own copy of the content, then drop the pointer."""
    op.execute("UPDATE versions SET "
               "original = (SELECT c.original FROM versions AS c "
               "WHERE c.id = versions.content_version_id), "
               "text = (SELECT c.text FROM versions AS c "
               "WHERE c.id = versions.content_version_id) "
               "WHERE content_version_id IS NOT NULL")
    columns = ("ordinal, kind, anchor, text, heading, number, start_s, end_s, speaker, page, "
               "meta")
    op.execute(f"INSERT INTO sections (version_id, {columns}) "
               f"SELECT v.id, {', '.join('s.' + c.strip() for c in columns.split(','))} "
               "FROM versions AS v JOIN sections AS s ON s.version_id = v.content_version_id")
    op.drop_column("versions", "content_version_id")
