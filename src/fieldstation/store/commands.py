"""Command queries (a part of `Store`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from fieldstation.core.models import Command, CommandStatus, Device
from fieldstation.store import schema as t

c = t.commands


def _command(row: Row[Any]) -> Command:
    return Command(
        id=row.id,
        guid=row.guid,
        project_id=row.project_id,
        device_id=row.device_id,
        device_guid=row.device_guid,
        reference=row.reference,
        data=row.data,
        status=CommandStatus(row.status),
        created_us=row.created_us,
        expires_us=row.expires_us,
        sent_us=row.sent_us,
        received_us=row.received_us,
        acknowledged_us=row.acknowledged_us,
        cancelled_us=row.cancelled_us,
        failed_us=row.failed_us,
        expired_us=row.expired_us,
    )


def _select() -> Select[Any]:
    return select(c, t.devices.c.guid.label("device_guid")).join(t.devices, t.devices.c.id == c.c.device_id)


class CommandQueries:
    engine: AsyncEngine

    async def add_command(
        self,
        *,
        project_id: int,
        device: Device,
        guid: str,
        reference: str | None,
        data: bytes,
        created_us: int,
        expires_us: int | None,
    ) -> Command:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(c).values(
                    guid=guid,
                    project_id=project_id,
                    device_id=device.id,
                    reference=reference,
                    data=data,
                    status=CommandStatus.PENDING.value,
                    created_us=created_us,
                    expires_us=expires_us,
                )
            )
            command_id = result.inserted_primary_key[0]  # type: ignore[index]
        return Command(
            command_id, guid, project_id, device.id, device.guid, reference, data, CommandStatus.PENDING,
            created_us, expires_us,
        )  # fmt: skip

    async def command_by_guid(self, project_id: int, guid: str) -> Command | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(_select().where(c.c.project_id == project_id, c.c.guid == guid))
            ).first()
        return None if row is None else _command(row)

    async def commands(
        self,
        project_id: int,
        device_id: int | None,
        status: CommandStatus | None,
        since_us: int | None,
        until_us: int | None,
    ) -> list[Command]:
        stmt = _select().where(c.c.project_id == project_id)
        if device_id is not None:
            stmt = stmt.where(c.c.device_id == device_id)
        if status is not None:
            stmt = stmt.where(c.c.status == status.value)
        if since_us is not None:
            stmt = stmt.where(c.c.created_us >= since_us)
        if until_us is not None:
            stmt = stmt.where(c.c.created_us <= until_us)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt.order_by(c.c.created_us, c.c.id))).all()
        return [_command(row) for row in rows]

    async def move_command(
        self,
        command_id: int,
        from_statuses: tuple[CommandStatus, ...],
        to_status: CommandStatus,
        stamp: str,
        when_us: int,
        *,
        received_us: int | None = None,
    ) -> bool:
        values: dict[str, Any] = {"status": to_status.value, stamp: when_us}
        if received_us is not None:
            values["received_us"] = received_us
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(c)
                .where(c.c.id == command_id, c.c.status.in_([s.value for s in from_statuses]))
                .values(**values)
            )
            return bool(result.rowcount)

    async def expire_commands(self, now_us: int) -> int:
        open_statuses = [CommandStatus.PENDING.value, CommandStatus.SENT.value]
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(c)
                .where(c.c.status.in_(open_statuses), c.c.expires_us.is_not(None), c.c.expires_us <= now_us)
                .values(status=CommandStatus.EXPIRED.value, expired_us=c.c.expires_us)
            )
            return int(result.rowcount)
