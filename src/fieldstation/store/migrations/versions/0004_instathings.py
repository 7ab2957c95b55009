"""Instathings: gateways, sub-devices and virtual devices; operations (status requests); log lines; a
certificate authority per project.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("is_gateway", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("parent_id", Id))
        batch.add_column(sa.Column("is_virtual", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("demo_active", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("frequency_s", sa.Integer, nullable=False, server_default="60"))
        batch.add_column(sa.Column("virtual_next_us", sa.BigInteger))
        batch.add_column(sa.Column("type_id", sa.String(64)))
        batch.add_column(sa.Column("protocols", sa.Text, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("certificate_id", sa.String(64)))
        batch.create_foreign_key("fk_devices_parent", "devices", ["parent_id"], ["id"], ondelete="CASCADE")
    op.create_table(
        "operations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("short_id", sa.String(16), nullable=False, unique=True),
        sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("response", sa.Text),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("deadline_us", sa.BigInteger, nullable=False),
        sa.Column("answered_us", sa.BigInteger),
    )
    op.create_table(
        "log_lines",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("container", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("logged_us", sa.BigInteger, nullable=False),
        sa.Column("ingested_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_log_lines_device", "log_lines", ["device_id", "container", "logged_us"])
    op.create_table(
        "project_authorities",
        sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("certificate_pem", sa.Text, nullable=False),
        sa.Column("private_key_pem", sa.Text, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("project_authorities", "log_lines", "operations"):
        op.drop_table(table)
    with op.batch_alter_table("devices") as batch:
        batch.drop_constraint("fk_devices_parent", type_="foreignkey")
        columns = ["certificate_id", "protocols", "type_id", "virtual_next_us", "frequency_s", "demo_active"]
        for column in [*columns, "is_virtual", "parent_id", "is_gateway"]:
            batch.drop_column(column)
