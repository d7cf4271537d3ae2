"""LoRA adapters trained per project (workbench/adapters).

Revision ID: 0003_adapters
Revises: 0002_jobs
Create Date: 2025-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_adapters"
down_revision = "0002_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adapters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("base_model", sa.Text(), nullable=False),
        sa.Column("base_hash", sa.String(64), nullable=False),
        sa.Column("dataset_hash", sa.String(64), nullable=False),
        sa.Column("run_key", sa.String(64), nullable=False),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("dataset", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("steps_total", sa.Integer(), nullable=False),
        sa.Column("checkpoint", sa.Integer(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_adapters_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adapters")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_adapters_project_id_name")),
    )
    with op.batch_alter_table("adapters") as batch:
        batch.create_index(batch.f("ix_adapters_project_id"), ["project_id"])
        batch.create_index(batch.f("ix_adapters_status"), ["status"])
        batch.create_index(batch.f("ix_adapters_run_key"), ["run_key"])


def downgrade() -> None:
    op.drop_table("adapters")
