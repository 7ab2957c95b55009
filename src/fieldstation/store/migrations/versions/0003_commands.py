"""Commands (downlinks) and their lifecycle; uplinks by project and receive time (Astrocast messages).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("guid", sa.String(36), nullable=False, unique=True),
        sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reference", sa.String(256)),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger),
        sa.Column("sent_us", sa.BigInteger),
        sa.Column("received_us", sa.BigInteger),
        sa.Column("acknowledged_us", sa.BigInteger),
        sa.Column("cancelled_us", sa.BigInteger),
        sa.Column("failed_us", sa.BigInteger),
        sa.Column("expired_us", sa.BigInteger),
    )
    op.create_index("ix_commands_project_created", "commands", ["project_id", "created_us", "id"])
    op.create_index("ix_commands_device_created", "commands", ["device_id", "created_us"])
    op.create_index("ix_uplinks_project_received", "uplinks", ["project_id", "received_us", "id"])


def downgrade() -> None:
    op.drop_index("ix_uplinks_project_received", "uplinks")
    op.drop_table("commands")
