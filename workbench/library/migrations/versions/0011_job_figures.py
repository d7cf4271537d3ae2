"""Progress figures: a running job's latest `figures` (percent for the bar, what it is doing,
tokens/s, seconds left; workbench/synthesis/progress_figures.py computes them), so the UI can
draw a real progress bar whichever process runs the job.

Revision ID: 0011_job_figures
Revises: 0010_versions
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_job_figures"
down_revision = "0010_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("figures", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("figures")
