"""Commit positions for read cursors: on PostgreSQL, each reading records the transaction that wrote it, so
that `/data/latest` pages by commit order (several workers commit out of id order; a cursor over ids would
skip a reading that committed late). SQLite keeps the column empty: its ids are commit-ordered already.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("readings", sa.Column("committed_in", sa.BigInteger))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE readings ALTER COLUMN committed_in SET DEFAULT (pg_current_xact_id()::text::bigint)"
        )
        # Readings written before: position 0, behind every cursor. Cursors held reading ids, which mean
        # nothing as positions: each starts again at its next call with the last day.
        op.execute("UPDATE readings SET committed_in = 0")
        op.execute("DELETE FROM read_cursors")


def downgrade() -> None:
    op.drop_column("readings", "committed_in")
