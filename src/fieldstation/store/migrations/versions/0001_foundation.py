"""Foundation: projects, credentials, devices, uplinks, readings, read cursors.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "hub_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "projects",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("short_id", sa.String(16), nullable=False, unique=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("auto_register", sa.Boolean, nullable=False),
        sa.Column("is_demo", sa.Boolean, nullable=False),
    )
    op.create_table(
        "credentials",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("username", sa.String(128)),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("revoked_us", sa.BigInteger),
    )
    op.create_index("ix_credentials_project", "credentials", ["project_id", "kind"])
    op.create_table(
        "devices",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("guid", sa.String(36), nullable=False, unique=True),
        sa.Column("short_id", sa.String(16), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("tag_id", sa.BigInteger),
        sa.Column("eui", sa.String(32)),
        sa.Column("asset", sa.String(128)),
        sa.Column("device_type", sa.String(32), nullable=False),
        sa.Column("software_version", sa.Integer),
        sa.Column("codec", sa.String(64), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("manufactured_us", sa.BigInteger),
        sa.UniqueConstraint("project_id", "tag_id", name="uq_devices_project_tag"),
        sa.UniqueConstraint("project_id", "eui", name="uq_devices_project_eui"),
    )
    op.create_table(
        "uplinks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("received_us", sa.BigInteger, nullable=False),
        sa.Column("inserted_us", sa.BigInteger, nullable=False),
        sa.Column("eui", sa.String(32)),
        sa.Column("f_cnt", sa.BigInteger),
        sa.Column("f_port", sa.Integer),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
    )
    op.create_index("ix_uplinks_device_received", "uplinks", ["device_id", "received_us"])
    op.create_table(
        "readings",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(36), nullable=False, unique=True),
        sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("uplink_id", Id, sa.ForeignKey("uplinks.id", ondelete="SET NULL")),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("inserted_us", sa.BigInteger, nullable=False),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("values_json", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("warnings", sa.Text),
        sa.Column("awt_json", sa.Text, nullable=False),
    )
    op.create_index("ix_readings_project_inserted", "readings", ["project_id", "inserted_us", "id"])
    op.create_index("ix_readings_device_inserted", "readings", ["device_id", "inserted_us", "id"])
    op.create_index("ix_readings_project_time", "readings", ["project_id", "time_us", "id"])
    op.create_index("ix_readings_device_time", "readings", ["device_id", "time_us", "id"])
    op.create_table(
        "read_cursors",
        sa.Column("credential_id", Id, sa.ForeignKey("credentials.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "read_cursors",
        "readings",
        "uplinks",
        "devices",
        "credentials",
        "projects",
        "hub_settings",
    ):
        op.drop_table(table)
