"""Tenancy: ids that come from outside are unique per project, not across the installation; every device
has an AWT tag id.

- A reading's uid (an Astrocast messageGuid, later a gateway's record id) and a device's guid (an Astrocast
  deviceGuid) were unique across all projects, so the same callback delivered to two projects failed in
  the second. They are now unique per project.
- Devices without a tag id (Astronodes, Instathings devices, LoRa devices whose frame's tag id another
  device holds) are given one from the hub's own range (`core.devices.HUB_TAG_BASE` and up), and their
  stored AWT renderings get it, so that every reading the AWT view shows has a `tagId`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HUB_TAG_BASE = 9_000_000_000
"""Kept equal to core.devices.HUB_TAG_BASE; a migration does not import the code it migrates."""
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
"""SQLite's inline UNIQUE constraints have no names; batch mode names them by this convention to drop them."""


def _unique_name(table: str, column: str) -> str:
    return f"uq_{table}_{column}" if op.get_bind().dialect.name == "sqlite" else f"{table}_{column}_key"


def upgrade() -> None:
    for table, column in (("readings", "uid"), ("devices", "guid")):
        with op.batch_alter_table(table, naming_convention=SQLITE_NAMES) as batch:
            batch.drop_constraint(_unique_name(table, column), type_="unique")
        op.create_index(f"ux_{table}_project_{column}", table, ["project_id", column], unique=True)
    _give_tag_ids()


def _give_tag_ids() -> None:
    bind = op.get_bind()
    untagged = bind.execute(
        sa.text("SELECT id, project_id FROM devices WHERE tag_id IS NULL ORDER BY project_id, id")
    ).all()
    next_tag: dict[int, int] = {}
    for device_id, project_id in untagged:
        if project_id not in next_tag:
            highest = bind.execute(
                sa.text("SELECT MAX(tag_id) FROM devices WHERE project_id = :p AND tag_id >= :base"),
                {"p": project_id, "base": HUB_TAG_BASE},
            ).scalar()
            next_tag[project_id] = HUB_TAG_BASE if highest is None else highest + 1
        tag = next_tag[project_id]
        next_tag[project_id] = tag + 1
        bind.execute(
            sa.text("UPDATE devices SET tag_id = :tag WHERE id = :id"), {"tag": tag, "id": device_id}
        )
        bind.execute(
            sa.text(
                "UPDATE readings SET awt_json = replace(awt_json, :untagged, :tagged) WHERE device_id = :id"
            ),
            {"untagged": '"tagId":null', "tagged": f'"tagId":{tag}', "id": device_id},
        )


def downgrade() -> None:
    for table, column in (("devices", "guid"), ("readings", "uid")):
        op.drop_index(f"ux_{table}_project_{column}", table)
        with op.batch_alter_table(table, naming_convention=SQLITE_NAMES) as batch:
            batch.create_unique_constraint(_unique_name(table, column), [column])
