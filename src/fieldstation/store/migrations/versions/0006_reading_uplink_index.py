"""An index on the uplink a reading came from.

Without it, every uplink deleted by retention made SQLite scan all readings (the foreign key's
`ON DELETE SET NULL` looks for the rows that refer to it), and finding the reading that a repeated uplink
first produced (to answer a duplicate with its `recordId`) scanned them too, once per batch with a
duplicate: both grew with the table. Uplink ids only grow, so the index is appended to at its end.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_readings_uplink", "readings", ["uplink_id"])


def downgrade() -> None:
    op.drop_index("ix_readings_uplink", table_name="readings")
