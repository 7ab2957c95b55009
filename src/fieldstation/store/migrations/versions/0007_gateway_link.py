"""The gateways' MQTT link: what a sub-device's adapter needs (`parameters`), what the hub knows of a
gateway's link (`link_state`: its session, software versions and outbox report), and one certificate
authority for the installation instead of one per project (the broker trusts one CA; a certificate names
its project and gateway, docs/gateway.md).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("parameters", sa.Text, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("link_state", sa.Text))
    op.drop_table("project_authorities")


def downgrade() -> None:
    op.create_table(
        "project_authorities",
        sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("certificate_pem", sa.Text, nullable=False),
        sa.Column("private_key_pem", sa.Text, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("link_state")
        batch.drop_column("parameters")
