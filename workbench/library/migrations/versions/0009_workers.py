"""Job workers: a job can be queued for `python -m workbench worker` processes (`detached`),
and a claimed job carries its worker's id and a lease that its heartbeat keeps extending, so a
job whose worker vanished (on any host) becomes claimable again. `result` keeps what a job
kind returns besides an artifact (a trust run's id, a trained adapter's summary).

Revision ID: 0009_workers
Revises: 0008_keys
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_workers"
down_revision = "0008_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("detached", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("worker_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("result", sa.JSON(), nullable=True))
        batch.create_index(batch.f("ix_jobs_detached"), ["detached"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index(batch.f("ix_jobs_detached"))
        batch.drop_column("result")
        batch.drop_column("lease_expires_at")
        batch.drop_column("worker_id")
        batch.drop_column("detached")
