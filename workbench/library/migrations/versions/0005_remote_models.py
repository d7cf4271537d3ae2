"""Remote models stored by name (server URL, protocol, tokenizer, the key's variable name).

Revision ID: 0005_remote_models
Revises: 0004_trust
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_remote_models"
down_revision = "0004_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remote_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("protocol", sa.String(20), nullable=False),
        sa.Column("remote_model", sa.Text(), nullable=False),
        sa.Column("tokenizer", sa.Text(), nullable=True),
        sa.Column("api_key_env", sa.String(200), nullable=True),
        sa.Column("context_window", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_models")),
        sa.UniqueConstraint("key", name=op.f("uq_remote_models_key")),
    )


def downgrade() -> None:
    op.drop_table("remote_models")
