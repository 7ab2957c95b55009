"""Operations (requests that wait for a device's answer) and gateway log lines (a part of `Store`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from fieldstation.core.models import LogLine, Operation
from fieldstation.store import schema as t

o, g = t.operations, t.log_lines


def _operation(row: Any) -> Operation:
    return Operation(
        id=row.id,
        short_id=row.short_id,
        project_id=row.project_id,
        device_id=row.device_id,
        action=row.action,
        request=orjson.loads(row.request),
        created_us=row.created_us,
        deadline_us=row.deadline_us,
        response=None if row.response is None else orjson.loads(row.response),
        answered_us=row.answered_us,
    )


class OperationQueries:
    engine: AsyncEngine

    async def add_operation(
        self,
        *,
        short_id: str,
        project_id: int,
        device_id: int,
        action: str,
        request: dict[str, Any],
        created_us: int,
        deadline_us: int,
    ) -> Operation:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(o).values(
                    short_id=short_id,
                    project_id=project_id,
                    device_id=device_id,
                    action=action,
                    request=orjson.dumps(request).decode(),
                    created_us=created_us,
                    deadline_us=deadline_us,
                )
            )
            operation_id = result.inserted_primary_key[0]  # type: ignore[index]
        return Operation(
            operation_id, short_id, project_id, device_id, action, request, created_us, deadline_us
        )

    async def operation_by_short_id(self, project_id: int, short_id: str) -> Operation | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(o).where(o.c.project_id == project_id, o.c.short_id == short_id))
            ).first()
        return None if row is None else _operation(row)

    async def answer_operation(self, operation_id: int, response: Any, answered_us: int) -> bool:
        """Record the device's answer; the first answer stands."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(o)
                .where(o.c.id == operation_id, o.c.answered_us.is_(None))
                .values(response=orjson.dumps(response).decode(), answered_us=answered_us)
            )
            return bool(result.rowcount)

    async def add_log_lines(self, project_id: int, lines: Sequence[LogLine]) -> None:
        if not lines:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(g),
                [
                    {
                        "project_id": project_id,
                        "device_id": line.device_id,
                        "container": line.container,
                        "kind": line.kind,
                        "message": line.message,
                        "logged_us": line.logged_us,
                        "ingested_us": line.ingested_us,
                    }
                    for line in lines
                ],
            )

    async def log_lines(
        self, device_id: int, container: str, since_us: int | None, until_us: int | None, limit: int
    ) -> list[LogLine]:
        stmt = select(g).where(g.c.device_id == device_id, g.c.container == container)
        if since_us is not None and until_us is not None:
            stmt = stmt.where(g.c.logged_us >= since_us, g.c.logged_us <= until_us)
        stmt = stmt.order_by(g.c.logged_us, g.c.id).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            LogLine(row.device_id, row.container, row.kind, row.message, row.logged_us, row.ingested_us)
            for row in rows
        ]
