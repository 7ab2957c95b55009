"""Ingestion: project settings (network-server keys), uplink deduplication keys, network events.

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

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("settings", sa.Text, nullable=False, server_default="{}"))
    with op.batch_alter_table("uplinks") as batch:
        batch.add_column(sa.Column("dedup_key", sa.String(96)))
    op.create_index("ux_uplinks_dedup", "uplinks", ["project_id", "dedup_key"], unique=True)
    op.create_table(
        "network_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="CASCADE")),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("received_us", sa.BigInteger, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_network_events_device", "network_events", ["device_id", "received_us"])


def downgrade() -> None:
    op.drop_table("network_events")
    op.drop_index("ux_uplinks_dedup", "uplinks")
    with op.batch_alter_table("uplinks") as batch:
        batch.drop_column("dedup_key")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("settings")
