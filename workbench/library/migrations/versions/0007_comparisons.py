"""Model comparisons (figure rows per model, the blind order) and their votes.

Revision ID: 0007_comparisons
Revises: 0006_job_owners
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_comparisons"
down_revision = "0006_job_owners"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("order", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_comparisons_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparisons")),
    )
    op.create_index(op.f("ix_comparisons_project_id"), "comparisons", ["project_id"])
    op.create_table(
        "comparison_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("winner", sa.String(20), nullable=False),
        sa.Column("winner_model", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["comparison_id"], ["comparisons.id"], ondelete="CASCADE",
                                name=op.f("fk_comparison_votes_comparison_id_comparisons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparison_votes")),
    )
    op.create_index(op.f("ix_comparison_votes_comparison_id"), "comparison_votes",
                    ["comparison_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_comparison_votes_comparison_id"), table_name="comparison_votes")
    op.drop_table("comparison_votes")
    op.drop_index(op.f("ix_comparisons_project_id"), table_name="comparisons")
    op.drop_table("comparisons")
