"""Portal operators, their projects and their sign-in sessions (a part of `Store`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fieldstation.core.errors import AlreadyExists
from fieldstation.core.models import Operator, OperatorSession
from fieldstation.store import schema as t

o, op, os_ = t.operators, t.operator_projects, t.operator_sessions


def _operator(row: Row[tuple[object, ...]], project_ids: Sequence[int]) -> Operator:
    return Operator(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        is_admin=bool(row.is_admin),
        created_us=row.created_us,
        project_ids=tuple(sorted(project_ids)),
    )


async def _granted(conn: AsyncConnection, operator_ids: Sequence[int]) -> dict[int, list[int]]:
    granted: dict[int, list[int]] = {operator_id: [] for operator_id in operator_ids}
    rows = await conn.execute(
        select(op.c.operator_id, op.c.project_id).where(op.c.operator_id.in_(list(operator_ids)))
    )
    for operator_id, project_id in rows:
        granted[operator_id].append(project_id)
    return granted


class OperatorQueries:
    engine: AsyncEngine

    async def add_operator(
        self, *, username: str, password_hash: str, is_admin: bool, created_us: int
    ) -> Operator:
        values = {
            "username": username,
            "password_hash": password_hash,
            "is_admin": is_admin,
            "created_us": created_us,
        }
        try:
            async with self.engine.begin() as conn:
                operator_id = (await conn.execute(insert(o).values(**values).returning(o.c.id))).scalar_one()
        except IntegrityError as exc:
            raise AlreadyExists(f"there is already an operator named {username!r}") from exc
        return Operator(id=operator_id, **values)  # type: ignore[arg-type]

    async def operator_by_username(self, username: str) -> Operator | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(o).where(o.c.username == username))).first()
            if row is None:
                return None
            return _operator(row, (await _granted(conn, [row.id]))[row.id])

    async def operators(self) -> list[Operator]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(o).order_by(o.c.username))).all()
            granted = await _granted(conn, [row.id for row in rows])
        return [_operator(row, granted[row.id]) for row in rows]

    async def remove_operator(self, operator_id: int) -> None:
        async with self.engine.begin() as conn:  # its grants and sessions go with it (ON DELETE CASCADE)
            await conn.execute(delete(o).where(o.c.id == operator_id))

    async def set_operator_password(self, operator_id: int, password_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(o).where(o.c.id == operator_id).values(password_hash=password_hash))
            await conn.execute(delete(os_).where(os_.c.operator_id == operator_id))

    async def grant_projects(self, operator_id: int, project_ids: Sequence[int]) -> None:
        async with self.engine.begin() as conn:
            held = set((await _granted(conn, [operator_id]))[operator_id])
            new = [
                {"operator_id": operator_id, "project_id": p}
                for p in dict.fromkeys(project_ids)
                if p not in held
            ]
            if new:
                await conn.execute(insert(op), new)

    async def revoke_projects(self, operator_id: int, project_ids: Sequence[int]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(op).where(op.c.operator_id == operator_id, op.c.project_id.in_(list(project_ids)))
            )

    async def add_operator_session(
        self, *, token_digest: str, operator_id: int, csrf_token: str, created_us: int, expires_us: int
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(os_).where(os_.c.operator_id == operator_id, os_.c.expires_us <= created_us)
            )
            await conn.execute(
                insert(os_).values(
                    token_digest=token_digest,
                    operator_id=operator_id,
                    csrf_token=csrf_token,
                    created_us=created_us,
                    expires_us=expires_us,
                )
            )

    async def operator_session(self, token_digest: str, now_us: int) -> OperatorSession | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(o, os_.c.csrf_token, os_.c.expires_us)
                    .join(os_, os_.c.operator_id == o.c.id)
                    .where(os_.c.token_digest == token_digest, os_.c.expires_us > now_us)
                )
            ).first()
            if row is None:
                return None
            operator = _operator(row, (await _granted(conn, [row.id]))[row.id])
        return OperatorSession(operator, row.csrf_token, row.expires_us)

    async def end_operator_session(self, token_digest: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(os_).where(os_.c.token_digest == token_digest))
