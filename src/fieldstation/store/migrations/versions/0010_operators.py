"""Operators: the people who sign in to the portal (not API clients), the projects each may see, and their
sign-in sessions (kept in the database so that every worker knows them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "operator_projects",
        sa.Column("operator_id", Id, sa.ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("token_digest", sa.String(64), primary_key=True),
        sa.Column("operator_id", Id, sa.ForeignKey("operators.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
        sa.Index("ix_operator_sessions_operator", "operator_id"),
    )


def downgrade() -> None:
    op.drop_table("operator_sessions")
    op.drop_table("operator_projects")
    op.drop_table("operators")
