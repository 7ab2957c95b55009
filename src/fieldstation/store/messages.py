"""Uplinks as messages, device activity and daily usage (a part of `Store`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from fieldstation.core.models import DailyUsage, DeviceActivity, StoredUplink
from fieldstation.core.ports import UplinkFilter
from fieldstation.store import schema as t
from fieldstation.store.database import streaming_connection
from fieldstation.store.schema import same_uplink

DAY_US = 86_400 * 1_000_000
CHUNK_ROWS = 2_000
u, r, d, c = t.uplinks, t.readings, t.devices, t.commands


def _uplink(row: Any) -> StoredUplink:
    return StoredUplink(
        uid=row.uid,
        device_id=row.device_id,
        device_guid=row.device_guid,
        source=row.source,
        received_us=row.received_us,
        time_us=row.time_us,
        latitude=row.latitude,
        longitude=row.longitude,
        payload=row.payload,
    )


class MessageQueries:
    engine: AsyncEngine

    async def stream_uplinks(self, where: UplinkFilter) -> AsyncIterator[list[StoredUplink]]:
        """Uplinks with their readings, by receive time then id, in chunks (a year exports in constant
        memory)."""
        stmt = (
            select(
                r.c.uid,
                u.c.device_id,
                d.c.guid.label("device_guid"),
                u.c.source,
                u.c.received_us,
                r.c.time_us,
                r.c.latitude,
                r.c.longitude,
                u.c.payload,
            )
            .select_from(u.join(r, same_uplink(r)).join(d, d.c.id == u.c.device_id))
            .where(u.c.project_id == where.project_id)
        )
        if where.device_id is not None:
            stmt = stmt.where(u.c.device_id == where.device_id)
        for column, low, high in (
            (u.c.received_us, where.received_since_us, where.received_until_us),
            (r.c.time_us, where.created_since_us, where.created_until_us),
        ):
            if low is not None:
                stmt = stmt.where(column >= low)
            if high is not None:
                stmt = stmt.where(column <= high)
        stmt = stmt.order_by(u.c.received_us, u.c.id).limit(where.limit).offset(where.offset)
        async with streaming_connection(self.engine) as conn:
            result = await conn.stream(stmt)
            async for partition in result.partitions(CHUNK_ROWS):
                yield [_uplink(row) for row in partition]

    async def device_activity(self, project_id: int) -> dict[int, DeviceActivity]:
        """Per device: its last message, its last command, and its last reading with a position."""
        located = r.alias("located")
        last_located = (
            select(located.c.id)
            .where(located.c.device_id == d.c.id, located.c.latitude.is_not(None))
            .order_by(located.c.time_us.desc(), located.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        stmt = (
            select(
                d.c.id,
                select(func.max(u.c.received_us))
                .where(u.c.device_id == d.c.id)
                .scalar_subquery()
                .label("message"),
                select(func.max(c.c.created_us))
                .where(c.c.device_id == d.c.id)
                .scalar_subquery()
                .label("command"),
                r.c.time_us,
                r.c.latitude,
                r.c.longitude,
            )
            .select_from(d.outerjoin(r, r.c.id == last_located))
            .where(d.c.project_id == project_id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {
            row.id: DeviceActivity(row.message, row.command, row.time_us, row.latitude, row.longitude)
            for row in rows
        }

    async def daily_usage(
        self, project_id: int, device_id: int | None, since_us: int | None, until_us: int | None
    ) -> list[DailyUsage]:
        usage: dict[tuple[int, int], dict[str, int]] = {}
        for table, time_column, size_column, prefix in (
            (u, u.c.received_us, u.c.payload, "messages"),
            (c, c.c.created_us, c.c.data, "commands"),
        ):
            day = (time_column // DAY_US).label("day")
            stmt = select(table.c.device_id, day, func.count(), func.sum(func.length(size_column))).where(
                table.c.project_id == project_id
            )
            if device_id is not None:
                stmt = stmt.where(table.c.device_id == device_id)
            if since_us is not None:
                stmt = stmt.where(time_column >= since_us)
            if until_us is not None:
                stmt = stmt.where(time_column <= until_us)
            async with self.engine.connect() as conn:
                rows = (await conn.execute(stmt.group_by(table.c.device_id, "day"))).all()
            for row in rows:
                entry = usage.setdefault((row[0], int(row[1])), {})
                entry[f"{prefix}_count"] = int(row[2])
                entry[f"{prefix}_size"] = int(row[3] or 0)
        return [DailyUsage(device, day * DAY_US, **counts) for (device, day), counts in sorted(usage.items())]
