"""Readings and uplinks partitioned by month on PostgreSQL (store/partitions.py, docs/decisions.md).

Both stores: readings get `partition_us` (the later of the time stored and the reading's own time), and the
index of readings by uid is no longer unique (a uid from outside is kept to one reading by its uplink's
dedup key, as before). PostgreSQL: the two tables are rebuilt as partitioned tables, a partition for each
month that has data (within the last ten years; older rows go to the default partition) and for the months
around now; the dedup keys move to `uplink_keys`, since a partitioned table's unique index must contain its
partition key. The rebuild copies every row: on a large database, expect it to take a few minutes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

from fieldstation.core.clock import MICROS
from fieldstation.store.partitions import (
    PARTITION_KEYS,
    default_partition,
    make_partition,
    missing_months,
    month_of,
)

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD = "{}_unpartitioned"
HISTORY_MONTHS = 120
"""Months of existing data that get partitions of their own; older rows stay in the default partition."""
READING_INDEXES = {
    "ix_readings_project_inserted": ["project_id", "inserted_us", "id"],
    "ix_readings_device_inserted": ["device_id", "inserted_us", "id"],
    "ix_readings_project_time": ["project_id", "time_us", "id"],
    "ix_readings_device_time": ["device_id", "time_us", "id"],
}
UPLINK_INDEXES = {
    "ix_uplinks_device_received": ["device_id", "received_us"],
    "ix_uplinks_project_received": ["project_id", "received_us", "id"],
}
PARTITION_EXPRESSIONS = {"readings": "greatest(inserted_us, time_us)", "uplinks": "inserted_us"}


def upgrade() -> None:
    # SQLite adds a NOT NULL column only with a default; every write gives the value (sqlite_batch.plan).
    op.add_column("readings", sa.Column("partition_us", sa.BigInteger, nullable=False, server_default="0"))
    op.drop_index("ux_readings_project_uid", "readings")
    if op.get_bind().dialect.name != "postgresql":
        op.execute("UPDATE readings SET partition_us = max(inserted_us, time_us)")
        op.create_index("ix_readings_project_uid", "readings", ["project_id", "uid"])
        return
    bind = op.get_bind()
    for foreign_key in sa.inspect(bind).get_foreign_keys("readings"):
        if foreign_key["referred_table"] == "uplinks" and foreign_key["name"]:
            op.drop_constraint(foreign_key["name"], "readings", type_="foreignkey")
    sequences = {}
    for table, key in PARTITION_KEYS.items():
        op.execute(f"ALTER TABLE {table} RENAME TO {OLD.format(table)}")
        sequences[table] = bind.execute(
            sa.text(f"SELECT pg_get_serial_sequence('{OLD.format(table)}', 'id')")
        ).scalar_one()
        op.execute(
            f"CREATE TABLE {table} (LIKE {OLD.format(table)} INCLUDING DEFAULTS) PARTITION BY RANGE ({key})"
        )
        op.execute(f"CREATE TABLE {default_partition(table)} PARTITION OF {table} DEFAULT")
    # No default here: a row written without its partition key is refused, not filed under 1970.
    op.execute("ALTER TABLE readings ALTER COLUMN partition_us DROP DEFAULT")
    now_us = int(time.time()) * MICROS
    wanted = {(table, month) for table, month in missing_months(bind, now_us)}
    for table, expression in PARTITION_EXPRESSIONS.items():
        months = bind.execute(
            sa.text(
                "SELECT DISTINCT (extract(year FROM t) * 12 + extract(month FROM t) - 1)::int FROM "
                f"(SELECT to_timestamp({expression} / 1e6) AT TIME ZONE 'UTC' AS t "
                f"FROM {OLD.format(table)}) AS s"
            )
        ).scalars()
        current = month_of(now_us)
        wanted |= {(table, month) for month in months if current - HISTORY_MONTHS <= month <= current}
    for table, month in sorted(wanted):
        make_partition(bind, table, month)
    op.execute(f"INSERT INTO uplinks SELECT * FROM {OLD.format('uplinks')}")
    columns = bind.execute(
        sa.text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = :table "
            "ORDER BY ordinal_position"
        ),
        {"table": OLD.format("readings")},
    ).scalars()
    select_list = ", ".join(
        PARTITION_EXPRESSIONS["readings"] if column == "partition_us" else column for column in columns
    )
    op.execute(f"INSERT INTO readings SELECT {select_list} FROM {OLD.format('readings')}")
    op.create_table(
        "uplink_keys",
        sa.Column(
            "project_id", sa.BigInteger, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("dedup_key", sa.String(96), primary_key=True),
        sa.Column("inserted_us", sa.BigInteger, nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
    )
    op.execute(
        "INSERT INTO uplink_keys (project_id, dedup_key, inserted_us, uid) "
        "SELECT u.project_id, u.dedup_key, u.inserted_us, first.uid FROM uplinks AS u "
        "CROSS JOIN LATERAL (SELECT r.uid FROM readings AS r WHERE r.uplink_id = u.id ORDER BY r.id LIMIT 1) "
        "AS first WHERE u.dedup_key IS NOT NULL"
    )
    op.create_index("ix_uplink_keys_project_inserted", "uplink_keys", ["project_id", "inserted_us"])
    _replace_old_tables(sequences)
    op.create_primary_key("uplinks_pkey", "uplinks", ["id", "inserted_us"])
    op.create_primary_key("readings_pkey", "readings", ["id", "partition_us"])
    for table in PARTITION_KEYS:
        _owner_keys(table)
    for name, index_columns in UPLINK_INDEXES.items():
        op.create_index(name, "uplinks", index_columns)
    for name, index_columns in READING_INDEXES.items():
        op.create_index(name, "readings", index_columns, postgresql_include=["partition_us"])
    op.create_index("ix_readings_project_uid", "readings", ["project_id", "uid"])
    op.create_index("ix_readings_uplink", "readings", ["uplink_id"])
    op.execute("ANALYZE uplinks")
    op.execute("ANALYZE readings")


def _replace_old_tables(sequences: dict[str, str]) -> None:
    """Drop the unpartitioned tables, handing their id sequences to the new ones first."""
    for table, sequence in sequences.items():
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
        op.execute(f"DROP TABLE {OLD.format(table)}")
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")


def _owner_keys(table: str) -> None:
    for column, owner in (("project_id", "projects"), ("device_id", "devices")):
        op.create_foreign_key(f"{table}_{column}_fkey", table, owner, [column], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _unpartition()
    op.drop_index("ix_readings_project_uid", "readings")
    op.create_index("ux_readings_project_uid", "readings", ["project_id", "uid"], unique=True)
    op.drop_column("readings", "partition_us")


def _unpartition() -> None:
    bind = op.get_bind()
    sequences = {}
    for table in PARTITION_KEYS:
        op.execute(f"ALTER TABLE {table} RENAME TO {OLD.format(table)}")
        sequences[table] = bind.execute(
            sa.text(f"SELECT pg_get_serial_sequence('{OLD.format(table)}', 'id')")
        ).scalar_one()
        op.execute(f"CREATE TABLE {table} (LIKE {OLD.format(table)} INCLUDING DEFAULTS)")
        op.execute(f"INSERT INTO {table} SELECT * FROM {OLD.format(table)}")
    op.drop_table("uplink_keys")
    _replace_old_tables(sequences)
    # A key taken over after its window left the older uplink holding it too: retire it as SQLite does.
    op.execute(
        "UPDATE uplinks AS u SET dedup_key = u.dedup_key || ':' || u.id FROM uplinks AS newer "
        "WHERE newer.project_id = u.project_id AND newer.dedup_key = u.dedup_key AND newer.id > u.id"
    )
    op.execute("UPDATE readings SET uplink_id = NULL WHERE uplink_id NOT IN (SELECT id FROM uplinks)")
    for table in PARTITION_KEYS:
        op.create_primary_key(f"{table}_pkey", table, ["id"])
        _owner_keys(table)
    op.create_foreign_key(
        "readings_uplink_id_fkey", "readings", "uplinks", ["uplink_id"], ["id"], ondelete="SET NULL"
    )
    for name, index_columns in UPLINK_INDEXES.items():
        op.create_index(name, "uplinks", index_columns)
    op.create_index("ux_uplinks_dedup", "uplinks", ["project_id", "dedup_key"], unique=True)
    for name, index_columns in READING_INDEXES.items():
        op.create_index(name, "readings", index_columns)
    op.create_index("ix_readings_project_uid", "readings", ["project_id", "uid"])
    op.create_index("ix_readings_uplink", "readings", ["uplink_id"])
