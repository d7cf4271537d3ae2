"""The library: projects, documents, versions, sections and the FTS5 index over sections.

Revision ID: 0001_library
Revises:
Create Date: 2025-11-30

The FTS5 table uses `sections` as external content (rowid = sections.id), so section text is
stored once; triggers keep the index in step inside the writing transaction, including rows
removed by ON DELETE CASCADE. Kinds and roles are frozen here: a later change needs a migration.

On PostgreSQL the same revision builds the server's equivalents: a case-insensitive ICU
collation named "NOCASE" (so project names compare as on SQLite), and instead of FTS5 a
generated `sections.search` tsvector (text + heading) with a GIN index, in a `longhand` text
search configuration that folds case and diacritics like FTS5's `unicode61 remove_diacritics`
(the trusted `unaccent` extension, part of PostgreSQL's contrib). fts.py queries either.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_library"
down_revision = None
branch_labels = None
depends_on = None

KINDS = ("screenplay", "transcript", "paper", "notes", "prose")
ROLES = ("draft", "notes", "reference", "style")

FTS_SQL = (
    "CREATE VIRTUAL TABLE sections_fts USING fts5("
    "text, heading, anchor UNINDEXED, content='sections', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER sections_fts_ai AFTER INSERT ON sections BEGIN "
    "INSERT INTO sections_fts(rowid, text, heading, anchor) "
    "VALUES (new.id, new.text, new.heading, new.anchor); END",
    "CREATE TRIGGER sections_fts_ad AFTER DELETE ON sections BEGIN "
    "INSERT INTO sections_fts(sections_fts, rowid, text, heading, anchor) "
    "VALUES ('delete', old.id, old.text, old.heading, old.anchor); END",
    "CREATE TRIGGER sections_fts_au AFTER UPDATE ON sections BEGIN "
    "INSERT INTO sections_fts(sections_fts, rowid, text, heading, anchor) "
    "VALUES ('delete', old.id, old.text, old.heading, old.anchor); "
    "INSERT INTO sections_fts(rowid, text, heading, anchor) "
    "VALUES (new.id, new.text, new.heading, new.anchor); END",
)


PG_BEFORE = (
    "CREATE COLLATION IF NOT EXISTS \"NOCASE\" "
    "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
)
PG_FTS_SQL = (
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH CONFIGURATION longhand (COPY = pg_catalog.simple)",
    "ALTER TEXT SEARCH CONFIGURATION longhand ALTER MAPPING FOR "
    "word, hword, hword_part, numword, numhword, hword_numpart WITH unaccent, simple",
    "ALTER TABLE sections ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "to_tsvector('longhand'::regconfig, text) || "
    "to_tsvector('longhand'::regconfig, coalesce(heading, ''))) STORED",
    "CREATE INDEX ix_sections_search ON sections USING gin (search)",
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    for statement in PG_BEFORE if _postgres() else ():
        op.execute(statement)
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100, collation="NOCASE"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(_in("kind", KINDS), name=op.f("ck_documents_kind")),
        sa.CheckConstraint(_in("role", ROLES), name=op.f("ck_documents_role")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_documents_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("project_id", "filename",
                            name=op.f("uq_documents_project_id_filename")),
    )
    op.create_index(op.f("ix_documents_project_id"), "documents", ["project_id"])
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_versions_version_positive")),
        sa.CheckConstraint(_in("kind", KINDS), name=op.f("ck_versions_kind")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE",
                                name=op.f("fk_versions_document_id_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sa.UniqueConstraint("document_id", "version",
                            name=op.f("uq_versions_document_id_version")),
    )
    op.create_index(op.f("ix_versions_document_id"), "versions", ["document_id"])
    op.create_index(op.f("ix_versions_sha256"), "versions", ["sha256"])
    op.create_table(
        "sections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("anchor", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("heading", sa.Text(), nullable=True),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("start_s", sa.Float(), nullable=True),
        sa.Column("end_s", sa.Float(), nullable=True),
        sa.Column("speaker", sa.Text(), nullable=True),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.CheckConstraint("length(anchor) > 0", name=op.f("ck_sections_anchor_not_empty")),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"], ondelete="CASCADE",
                                name=op.f("fk_sections_version_id_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sections")),
        sa.UniqueConstraint("version_id", "ordinal",
                            name=op.f("uq_sections_version_id_ordinal")),
    )
    op.create_index(op.f("ix_sections_version_id"), "sections", ["version_id"])
    for statement in PG_FTS_SQL if _postgres() else FTS_SQL:
        op.execute(statement)


def downgrade() -> None:
    if _postgres():
        for table in ("sections", "versions", "documents", "projects"):
            op.drop_table(table)
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS longhand")
        op.execute('DROP COLLATION IF EXISTS "NOCASE"')
        return
    for trigger in ("sections_fts_au", "sections_fts_ad", "sections_fts_ai"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS sections_fts")
    for table in ("sections", "versions", "documents", "projects"):
        op.drop_table(table)
