"""Ingestion: project settings (network-server keys, auto-registration), uplink deduplication keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("settings", sa.Text, nullable=False, server_default="{}"))
    with op.batch_alter_table("uplinks") as batch:
        batch.add_column(sa.Column("dedup_key", sa.String(96)))
    op.create_index("ux_uplinks_dedup", "uplinks", ["project_id", "dedup_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_uplinks_dedup", "uplinks")
    with op.batch_alter_table("uplinks") as batch:
        batch.drop_column("dedup_key")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("settings")
