"""Owner identity on job and adapter rows: process start time and host beside the pid, so a
row whose process died (or whose pid was reused) reads as interrupted.

Revision ID: 0006_job_owners
Revises: 0005_remote_models
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_job_owners"
down_revision = "0005_remote_models"
branch_labels = None
depends_on = None

TABLES = ("jobs", "adapters")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner_started", sa.Float(), nullable=True))
            batch.add_column(sa.Column("owner_host", sa.String(255), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("owner_host")
            batch.drop_column("owner_started")
