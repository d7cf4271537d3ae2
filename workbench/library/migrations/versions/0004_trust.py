"""Trust check results: one row per finished check.

Revision ID: 0004_trust
Revises: 0003_adapters
Create Date: 2025-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_trust"
down_revision = "0003_adapters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trust_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("backend", sa.String(40), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("cited_score", sa.Float(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("cost", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_trust_runs_project_id_projects")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL",
                                name=op.f("fk_trust_runs_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_runs")),
    )
    with op.batch_alter_table("trust_runs") as batch:
        batch.create_index(batch.f("ix_trust_runs_project_id"), ["project_id"])
        batch.create_index("ix_trust_runs_lookup", ["project_id", "backend", "model"])


def downgrade() -> None:
    op.drop_table("trust_runs")
