"""Device management beyond registration: updates, deletion, gateways' sub-devices, virtual devices'
schedule, and data pages of one device (a part of `Store`)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from fieldstation.core.errors import AlreadyExists
from fieldstation.core.models import Device, Reading
from fieldstation.store import schema as t
from fieldstation.store.rows import device_row, json_columns, reading_row
from fieldstation.store.schema import same_uplink

d, r, u = t.devices, t.readings, t.uplinks


class FleetQueries:
    engine: AsyncEngine

    async def device_by_short_id(self, project_id: int, short_id: str) -> Device | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(d).where(d.c.project_id == project_id, d.c.short_id == short_id))
            ).first()
        return None if row is None else device_row(row)

    async def update_device(self, device_id: int, **changes: Any) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(d).where(d.c.id == device_id).values(**(changes | json_columns(changes)))
                )
        except IntegrityError as exc:
            taken = ", ".join(f"{name} {value}" for name, value in changes.items())
            raise AlreadyExists(f"another device of the project already has {taken}") from exc

    async def delete_device(self, device_id: int) -> None:
        async with self.engine.begin() as conn:
            # SQLite enforces ON DELETE CASCADE only with foreign_keys on, which every connection sets.
            await conn.execute(delete(d).where(d.c.id == device_id))

    async def claim_virtual_tick(self, device_id: int, expected_next_us: int | None, next_us: int) -> bool:
        """Move a virtual device's next tick from `expected_next_us` to `next_us`; only one caller, of however
        many workers, wins a given tick."""
        condition = (
            d.c.virtual_next_us.is_(None)
            if expected_next_us is None
            else d.c.virtual_next_us == expected_next_us
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(d).where(d.c.id == device_id, condition).values(virtual_next_us=next_us)
            )
            return bool(result.rowcount)

    async def due_virtual_devices(self, now_us: int) -> list[tuple[Device, int | None]]:
        stmt = select(d).where(
            d.c.is_virtual.is_(True),
            d.c.demo_active.is_(True),
            (d.c.virtual_next_us.is_(None)) | (d.c.virtual_next_us <= now_us),
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [(device_row(row), row.virtual_next_us) for row in rows]

    async def device_data(
        self, device_id: int, since_us: int | None, until_us: int | None, offset: int, limit: int
    ) -> tuple[list[tuple[Reading, dict[str, Any]]], int]:
        """A page of a device's readings, newest first, with their uplink's metadata; and the total."""
        where = [r.c.device_id == device_id]
        if since_us is not None:
            where.append(r.c.time_us >= since_us)
        if until_us is not None:
            where.append(r.c.time_us <= until_us)
        stmt = (
            select(r, u.c.meta.label("uplink_meta"))
            .select_from(r.outerjoin(u, same_uplink(r)))
            .where(*where)
            .order_by(r.c.time_us.desc(), r.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
            total = await conn.scalar(select(func.count()).select_from(r).where(*where))
        page = [(reading_row(row), orjson.loads(row.uplink_meta) if row.uplink_meta else {}) for row in rows]
        return page, int(total or 0)

    async def purge_readings(self, project_id: int, before_us: int) -> int:
        """Delete the project's readings inserted before `before_us`, and their uplinks."""
        async with self.engine.begin() as conn:
            uplink_ids = select(r.c.uplink_id).where(
                r.c.project_id == project_id, r.c.inserted_us < before_us, r.c.uplink_id.is_not(None)
            )
            # An uplink was stored with its readings: the time condition takes PostgreSQL to the partitions
            # that can hold it.
            await conn.execute(
                delete(u).where(
                    u.c.project_id == project_id, u.c.inserted_us < before_us, u.c.id.in_(uplink_ids)
                )
            )
            result = await conn.execute(
                delete(r).where(r.c.project_id == project_id, r.c.inserted_us < before_us)
            )
            if self.engine.dialect.name == "postgresql":
                k = t.uplink_keys
                await conn.execute(delete(k).where(k.c.project_id == project_id, k.c.inserted_us < before_us))
            return int(result.rowcount)
