"""PostgreSQL's partitions of readings and uplinks: one a month (UTC), made ahead by the hub, dropped whole
by retention (docs/decisions.md).

Readings are partitioned by `partition_us` (the later of the time stored and the reading's own time),
uplinks by `inserted_us`. Each table also has a default partition, `<table>_other`, for the rows of a month
that has no partition of its own: a history imported from years back, a device whose clock is in the
future. Nothing is ever refused for want of a partition. When a month's partition is made, its rows are
moved out of the default partition in the same transaction.

The functions take a synchronous SQLAlchemy connection: the migration calls them through Alembic's, the
hub through `AsyncConnection.run_sync`."""

from __future__ import annotations

import calendar
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fieldstation.core.clock import MICROS

log = logging.getLogger("fieldstation.store")
PARTITION_KEYS = {"readings": "partition_us", "uplinks": "inserted_us"}
MONTHS_AHEAD = 3
"""Months made before they begin: a hub whose upkeep cannot run for a quarter still writes to partitions."""
MONTHS_BEHIND = 1
"""The month before this one is made too, should a hub start on a database made elsewhere."""
LOCK_TIMEOUT = "5s"
"""Attaching or dropping a partition locks its table. A statement that cannot have the lock in this time
gives up, rather than queue every write behind it; the next round of upkeep tries again."""


def month_of(at_us: int) -> int:
    """The month an instant falls in, counted from year 0 (`year * 12 + month - 1`, UTC)."""
    moment = time.gmtime(at_us // MICROS)
    return moment.tm_year * 12 + moment.tm_mon - 1


def month_start_us(month: int) -> int:
    year, index = divmod(month, 12)
    return calendar.timegm((year, index + 1, 1, 0, 0, 0)) * MICROS


def partition_name(table: str, month: int) -> str:
    year, index = divmod(month, 12)
    return f"{table}_{year:04d}_{index + 1:02d}"


def default_partition(table: str) -> str:
    return f"{table}_other"


def is_partition(table_name: str) -> bool:
    """Whether a table of the database is one of the partitions this module makes."""
    return any(
        re.fullmatch(rf"{table}_(\d{{4}}_\d{{2}}|other)", table_name) is not None for table in PARTITION_KEYS
    )


def partition_months(conn: Connection, table: str) -> dict[int, str]:
    """The table's monthly partitions: month -> partition name."""
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:table AS regclass)"
        ),
        {"table": table},
    ).scalars()
    pattern = re.compile(rf"{table}_(\d{{4}})_(\d{{2}})")
    months = {}
    for name in names:
        if found := pattern.fullmatch(name):
            months[int(found[1]) * 12 + int(found[2]) - 1] = name
    return months


def missing_months(conn: Connection, now_us: int) -> list[tuple[str, int]]:
    """(table, month) of every partition the hub keeps made that does not exist yet."""
    current = month_of(now_us)
    wanted = range(current - MONTHS_BEHIND, current + MONTHS_AHEAD + 1)
    missing = []
    for table in PARTITION_KEYS:
        made = partition_months(conn, table)
        missing += [(table, month) for month in wanted if month not in made]
    return missing


def make_partition(conn: Connection, table: str, month: int) -> int:
    """Make the month's partition, in the caller's transaction, with the rows of that month that were in
    the default partition; returns how many rows moved. (Attaching a partition whose range the default
    partition holds rows of would fail, and a plain `PARTITION OF` checks the same.)"""
    name, key, other = partition_name(table, month), PARTITION_KEYS[table], default_partition(table)
    low, high = month_start_us(month), month_start_us(month + 1)
    conn.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    moved = conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {other} WHERE {key} >= {low} AND {key} < {high} RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        )
    ).rowcount
    conn.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})"))
    return int(moved or 0)


def drop_months_before(conn: Connection, before_us: int) -> tuple[list[str], int]:
    """Drop, in the caller's transaction, every monthly partition whose month ended at or before
    `before_us`; returns their names and how many readings they held. Every row of such a partition was
    stored before `before_us`. A reading whose own time is later than its storing can outlive its uplink's
    partition; retention's row deletes, which follow, take it (core/retention.py)."""
    dropped, readings = [], 0
    for table in PARTITION_KEYS:
        for month, name in sorted(partition_months(conn, table).items()):
            if month_start_us(month + 1) > before_us:
                continue
            if table == "readings":
                readings += int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
            conn.execute(text(f"DROP TABLE {name}"))
            dropped.append(name)
    return dropped, readings


class PartitionQueries:
    """The upkeep of the partitions (a part of `Store`): nothing to do on SQLite."""

    engine: AsyncEngine

    async def prepare_partitions(self, now_us: int) -> list[str]:
        """PostgreSQL: make the monthly partitions due around `now_us` that are missing, each in a
        transaction of its own; returns their names."""
        if self.engine.dialect.name != "postgresql":
            return []
        async with self.engine.connect() as conn:
            missing = await conn.run_sync(missing_months, now_us)
        made = []
        for table, month in missing:
            name = partition_name(table, month)
            try:
                async with self._briefly_locking() as conn:
                    moved = await conn.run_sync(make_partition, table, month)
            except DBAPIError as exc:  # another worker made it meanwhile, or the lock was not to be had
                log.warning("partition %s not made (%s); the next upkeep tries again", name, exc.orig)
                continue
            if moved:
                log.info(
                    "partition %s made, with %d rows from %s",
                    name,
                    moved,
                    default_partition(table),
                )
            made.append(name)
        return made

    async def drop_partitions(self, before_us: int) -> int:
        """PostgreSQL: drop the monthly partitions that end at or before `before_us`; returns how many
        readings went with them."""
        if self.engine.dialect.name != "postgresql":
            return 0
        try:
            async with self._briefly_locking() as conn:
                dropped, readings = await conn.run_sync(drop_months_before, before_us)
        except DBAPIError as exc:  # the lock was not to be had: rows are deleted meanwhile, as on SQLite
            log.warning("partitions not dropped (%s); the next purge tries again", exc.orig)
            return 0
        if dropped:
            log.info("partitions dropped past every project's retention: %s", ", ".join(dropped))
        return readings

    @contextlib.asynccontextmanager
    async def _briefly_locking(self) -> AsyncIterator[AsyncConnection]:
        """A transaction whose locks are given up on after `LOCK_TIMEOUT` (the hub is serving meanwhile; the
        migration, which runs before it serves, waits as long as it must)."""
        async with self.engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            yield conn
