"""Client keys (hash only, limits) and the API's usage rows.

Revision ID: 0008_keys
Revises: 0007_comparisons
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_keys"
down_revision = "0007_comparisons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("rpm", sa.Integer(), nullable=True),
        sa.Column("tpm", sa.Integer(), nullable=True),
        sa.Column("max_parallel", sa.Integer(), nullable=True),
        sa.Column("models", sa.JSON(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("budget_usd", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("rotated_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_keys")),
        sa.UniqueConstraint("name", name=op.f("uq_client_keys_name")),
        sa.UniqueConstraint("key_id", name=op.f("uq_client_keys_key_id")),
    )
    op.create_table(
        "api_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("endpoint", sa.String(100), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["client_keys.id"], ondelete="SET NULL",
                                name=op.f("fk_api_usage_key_id_client_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_usage")),
    )
    op.create_index(op.f("ix_api_usage_created_at"), "api_usage", ["created_at"])
    op.create_index(op.f("ix_api_usage_day"), "api_usage", ["day"])
    op.create_index(op.f("ix_api_usage_key_id"), "api_usage", ["key_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_api_usage_key_id"), table_name="api_usage")
    op.drop_index(op.f("ix_api_usage_day"), table_name="api_usage")
    op.drop_index(op.f("ix_api_usage_created_at"), table_name="api_usage")
    op.drop_table("api_usage")
    op.drop_table("client_keys")
