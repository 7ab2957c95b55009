"""Queries. The only module that knows the tables; it speaks in core types."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar, cast

import orjson
from sqlalchemy import Row, Select, String, bindparam, func, insert, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fieldstation.core.errors import AlreadyExists
from fieldstation.core.models import (
    Credential,
    CredentialKind,
    Device,
    NewDevice,
    Project,
    Reading,
)
from fieldstation.core.ports import ReadingToStore, ReadingWindow, StoredReading
from fieldstation.store import schema as t

STREAM_CHUNK_ROWS = 2_000
T = TypeVar("T")


def _project(row: Row[Any]) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        short_id=row.short_id,
        created_us=row.created_us,
        auto_register=bool(row.auto_register),
        is_demo=bool(row.is_demo),
        settings=orjson.loads(row.settings or "{}"),
    )


def _credential(row: Row[Any]) -> Credential:
    return Credential(
        id=row.id,
        project_id=row.project_id,
        kind=CredentialKind(row.kind),
        key_digest=row.key_digest,
        username=row.username,
        password_hash=row.password_hash,
        created_us=row.created_us,
        revoked_us=row.revoked_us,
    )


def _device(row: Row[Any]) -> Device:
    return Device(
        id=row.id,
        project_id=row.project_id,
        guid=row.guid,
        short_id=row.short_id,
        name=row.name,
        tag_id=row.tag_id,
        eui=row.eui,
        asset=row.asset,
        device_type=row.device_type,
        software_version=row.software_version,
        codec=row.codec,
        created_us=row.created_us,
        manufactured_us=row.manufactured_us,
    )


def _reading(row: Row[Any]) -> Reading:
    return Reading(
        id=row.id,
        uid=row.uid,
        project_id=row.project_id,
        device_id=row.device_id,
        uplink_id=row.uplink_id,
        time_us=row.time_us,
        inserted_us=row.inserted_us,
        latitude=row.latitude,
        longitude=row.longitude,
        values=orjson.loads(row.values_json),
        error=row.error,
    )


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def close(self) -> None:
        await self.engine.dispose()

    # hub settings -------------------------------------------------------------------------------------

    async def setting(self, key: str) -> str | None:
        async with self.engine.connect() as conn:
            value: str | None = await conn.scalar(
                select(t.hub_settings.c.value).where(t.hub_settings.c.key == key)
            )
            return value

    async def setting_or_create(self, key: str, value: str) -> str:
        """The stored value, or `value` stored now. Concurrent first starts agree on one winner."""
        existing = await self.setting(key)
        if existing is not None:
            return existing
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(t.hub_settings).values(key=key, value=value))
            return value
        except IntegrityError:
            winner = await self.setting(key)
            assert winner is not None
            return winner

    # projects -----------------------------------------------------------------------------------------

    async def create_project(
        self, *, name: str, short_id: str, created_us: int, auto_register: bool, is_demo: bool
    ) -> Project:
        try:
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    insert(t.projects).values(
                        name=name,
                        short_id=short_id,
                        created_us=created_us,
                        auto_register=auto_register,
                        is_demo=is_demo,
                        settings="{}",
                    )
                )
                project_id = result.inserted_primary_key[0]  # type: ignore[index]
        except IntegrityError as exc:
            raise AlreadyExists(f"a project named {name!r} already exists") from exc
        return Project(project_id, name, short_id, created_us, auto_register, is_demo, {})

    async def project_by_name(self, name: str) -> Project | None:
        return await self._one(select(t.projects).where(t.projects.c.name == name), _project)

    async def project_by_id(self, project_id: int) -> Project | None:
        return await self._one(select(t.projects).where(t.projects.c.id == project_id), _project)

    async def projects(self) -> list[Project]:
        return await self._all(select(t.projects).order_by(t.projects.c.id), _project)

    # credentials --------------------------------------------------------------------------------------

    async def add_credential(
        self,
        *,
        project_id: int,
        kind: CredentialKind,
        key_digest: str,
        username: str | None,
        password_hash: str | None,
        created_us: int,
    ) -> Credential:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(t.credentials).values(
                    project_id=project_id,
                    kind=kind.value,
                    key_digest=key_digest,
                    username=username,
                    password_hash=password_hash,
                    created_us=created_us,
                )
            )
            credential_id = result.inserted_primary_key[0]  # type: ignore[index]
        return Credential(credential_id, project_id, kind, key_digest, username, password_hash, created_us)

    async def credential_by_digest(self, key_digest: str) -> Credential | None:
        stmt = select(t.credentials).where(t.credentials.c.key_digest == key_digest)
        return await self._one(stmt, _credential)

    async def credentials(self, project_id: int) -> list[Credential]:
        stmt = (
            select(t.credentials).where(t.credentials.c.project_id == project_id).order_by(t.credentials.c.id)
        )
        return await self._all(stmt, _credential)

    async def revoke_credential(self, credential_id: int, revoked_us: int) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(t.credentials)
                .where(t.credentials.c.id == credential_id, t.credentials.c.revoked_us.is_(None))
                .values(revoked_us=revoked_us)
            )
            return bool(result.rowcount)

    # devices ------------------------------------------------------------------------------------------

    async def add_device(
        self, *, project_id: int, device: NewDevice, guid: str, short_id: str, created_us: int
    ) -> Device:
        fields = dataclasses.asdict(device)
        try:
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    insert(t.devices).values(
                        project_id=project_id, guid=guid, short_id=short_id, created_us=created_us, **fields
                    )
                )
                device_id = result.inserted_primary_key[0]  # type: ignore[index]
        except IntegrityError as exc:
            raise AlreadyExists(
                f"a device with tag id {device.tag_id} or EUI {device.eui} already exists in this project"
            ) from exc
        return Device(
            id=device_id, project_id=project_id, guid=guid, short_id=short_id, created_us=created_us, **fields
        )

    async def devices(self, project_id: int) -> list[Device]:
        stmt = (
            select(t.devices)
            .where(t.devices.c.project_id == project_id)
            .order_by(t.devices.c.tag_id, t.devices.c.id)
        )
        return await self._all(stmt, _device)

    async def device_by_tag(self, project_id: int, tag_id: int) -> Device | None:
        stmt = select(t.devices).where(t.devices.c.project_id == project_id, t.devices.c.tag_id == tag_id)
        return await self._one(stmt, _device)

    async def device_by_eui(self, project_id: int, eui: str) -> Device | None:
        stmt = select(t.devices).where(t.devices.c.project_id == project_id, t.devices.c.eui == eui)
        return await self._one(stmt, _device)

    # uplinks and readings -----------------------------------------------------------------------------

    async def store_readings(
        self, items: Sequence[ReadingToStore], inserted_us: int, dedup_window_us: int
    ) -> list[StoredReading]:
        """Write uplinks and their readings in one transaction. An item whose dedup key is already stored
        (within the window) is a duplicate: nothing is written for it and it answers with the first uid."""
        async with self.engine.begin() as conn:
            uplink_ids, duplicates = await self._insert_uplinks(conn, items, inserted_us, dedup_window_us)
            rows = []
            for item, uplink_id in zip(items, uplink_ids, strict=True):
                if uplink_id is None and item.uplink is not None:
                    continue
                decoded = item.decoded
                time_us = decoded.device_time_us
                if time_us is None:
                    time_us = item.uplink.received_us if item.uplink is not None else inserted_us
                rows.append(
                    {
                        "uid": item.uid,
                        "project_id": item.device.project_id,
                        "device_id": item.device.id,
                        "uplink_id": uplink_id,
                        "time_us": time_us,
                        "inserted_us": item.inserted_us or inserted_us,
                        "latitude": decoded.latitude,
                        "longitude": decoded.longitude,
                        "values_json": orjson.dumps(decoded.values).decode(),
                        "error": decoded.error,
                        "warnings": orjson.dumps(decoded.warnings).decode() if decoded.warnings else None,
                        "awt_json": item.awt_json,
                    }
                )
            if rows:
                await conn.execute(insert(t.readings), rows)
        return [
            StoredReading(duplicates[index], True) if index in duplicates else StoredReading(item.uid, False)
            for index, item in enumerate(items)
        ]

    async def _insert_uplinks(
        self, conn: AsyncConnection, items: Sequence[ReadingToStore], inserted_us: int, dedup_window_us: int
    ) -> tuple[list[int | None], dict[int, str]]:
        """Insert the items' uplinks; returns their ids (None for a duplicate or an item without uplink) and,
        by item index, the uid that each duplicate repeats."""
        u = t.uplinks
        ids: list[int | None] = [None] * len(items)
        first_by_key: dict[str, int] = {}
        rows = []
        for index, item in enumerate(items):
            up = item.uplink
            if up is None:
                continue
            if item.dedup_key is not None and item.dedup_key in first_by_key:
                continue  # a repeat within this batch: the first one stands for it
            if item.dedup_key is not None:
                first_by_key[item.dedup_key] = index
            rows.append(
                {
                    "project_id": item.device.project_id,
                    "device_id": item.device.id,
                    "source": up.source,
                    "received_us": up.received_us,
                    "inserted_us": item.inserted_us or inserted_us,
                    "eui": up.eui,
                    "f_cnt": up.f_cnt,
                    "f_port": up.f_port,
                    "payload": up.payload,
                    "raw": up.raw,
                    "meta": orjson.dumps(up.meta).decode(),
                    "dedup_key": item.dedup_key,
                    "_index": index,
                }
            )
        if not rows:
            return ids, {}
        stored = await self._insert_new_keys(conn, rows)
        conflicts = [row for row in rows if row["_index"] not in stored]
        if conflicts:
            retire = await self._stale_keys(conn, conflicts, inserted_us - dedup_window_us)
            if retire:
                await conn.execute(
                    update(u)
                    .where(u.c.id == bindparam("old_id"))
                    .values(dedup_key=u.c.dedup_key + ":" + sql_cast(u.c.id, String)),
                    [{"old_id": old_id} for old_id in retire.values()],
                )
                stored |= await self._insert_new_keys(
                    conn, [row for row in conflicts if row["dedup_key"] in retire]
                )
        for index, uplink_id in stored.items():
            ids[index] = uplink_id
        repeated = {
            index: item.dedup_key
            for index, item in enumerate(items)
            if item.uplink is not None and item.dedup_key is not None and index not in stored
        }
        return ids, await self._first_uids(conn, items, repeated, stored)

    async def _insert_new_keys(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> dict[int, int]:
        """Insert rows whose dedup key is new; returns item index -> uplink id of those inserted."""
        u = t.uplinks
        values = [{k: v for k, v in row.items() if k != "_index"} for row in rows]
        insert_stmt = (sqlite_insert if self.engine.dialect.name == "sqlite" else postgres_insert)(u)
        stmt = insert_stmt.on_conflict_do_nothing(index_elements=["project_id", "dedup_key"]).returning(
            u.c.id, u.c.dedup_key
        )
        result = await conn.execute(stmt, values)
        by_key: dict[str | None, int] = {}
        unkeyed: list[int] = []
        for returned in result.all():
            if returned.dedup_key is None:
                unkeyed.append(returned.id)
            else:
                by_key[returned.dedup_key] = returned.id
        unkeyed.sort()
        inserted: dict[int, int] = {}
        for row in rows:
            if row["dedup_key"] is None:
                inserted[row["_index"]] = unkeyed.pop(0)
            elif row["dedup_key"] in by_key:
                inserted[row["_index"]] = by_key.pop(row["dedup_key"])
        return inserted

    @staticmethod
    async def _stale_keys(
        conn: AsyncConnection, rows: list[dict[str, Any]], horizon_us: int
    ) -> dict[str, int]:
        """Of the conflicting keys, those stored before the window began (hub time): key -> its row id."""
        u = t.uplinks
        found = await conn.execute(
            select(u.c.id, u.c.dedup_key).where(
                u.c.project_id == rows[0]["project_id"],
                u.c.dedup_key.in_([row["dedup_key"] for row in rows]),
                u.c.inserted_us < horizon_us,
            )
        )
        return {row.dedup_key: row.id for row in found}

    @staticmethod
    async def _first_uids(
        conn: AsyncConnection,
        items: Sequence[ReadingToStore],
        repeated: dict[int, str],
        stored: dict[int, int],
    ) -> dict[int, str]:
        """For each repeated item, the uid of the reading its key first produced."""
        if not repeated:
            return {}
        uid_by_key = {
            items[index].dedup_key: items[index].uid
            for index in stored
            if items[index].dedup_key in repeated.values()
        }
        missing = [key for key in set(repeated.values()) if key not in uid_by_key]
        if missing:
            found = await conn.execute(
                select(t.uplinks.c.dedup_key, t.readings.c.uid)
                .select_from(t.uplinks.join(t.readings, t.readings.c.uplink_id == t.uplinks.c.id))
                .where(
                    t.uplinks.c.project_id == items[0].device.project_id, t.uplinks.c.dedup_key.in_(missing)
                )
            )
            uid_by_key.update({row.dedup_key: row.uid for row in found})
        return {index: uid_by_key[key] for index, key in repeated.items()}

    async def add_network_event(
        self,
        *,
        project_id: int,
        device_id: int | None,
        network: str,
        kind: str,
        received_us: int,
        meta: dict[str, Any],
        raw: bytes,
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.network_events).values(
                    project_id=project_id,
                    device_id=device_id,
                    network=network,
                    kind=kind,
                    received_us=received_us,
                    meta=orjson.dumps(meta).decode(),
                    raw=raw,
                )
            )

    async def update_project(self, project_id: int, *, auto_register: bool, settings: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.projects)
                .where(t.projects.c.id == project_id)
                .values(auto_register=auto_register, settings=orjson.dumps(settings).decode())
            )

    async def reading_by_uid(self, uid: str) -> Reading | None:
        return await self._one(select(t.readings).where(t.readings.c.uid == uid), _reading)

    async def uplink_payload(self, uplink_id: int) -> bytes | None:
        async with self.engine.connect() as conn:
            payload: bytes | None = await conn.scalar(
                select(t.uplinks.c.payload).where(t.uplinks.c.id == uplink_id)
            )
            return payload

    async def last_reading_id(self, project_id: int) -> int:
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                select(func.max(t.readings.c.id)).where(t.readings.c.project_id == project_id)
            )
            return int(value or 0)

    async def latest_device_time(self, device_id: int) -> int | None:
        async with self.engine.connect() as conn:
            value: int | None = await conn.scalar(
                select(func.max(t.readings.c.time_us)).where(t.readings.c.device_id == device_id)
            )
            return value

    @staticmethod
    def _page_filter(window: ReadingWindow) -> tuple[str, str, list[Any]]:
        """(ordering column, WHERE clause, its arguments) of a window, for hand-written SQLite SQL."""
        key = "inserted_us" if window.order == "inserted" else "time_us"
        owner, owner_id = (
            ("project_id", window.project_id) if window.device_id is None else ("device_id", window.device_id)
        )
        clauses = [f"{owner} = ?", f"{key} >= ?", f"{key} <= ?"]
        args: list[Any] = [owner_id, window.since_us, window.until_us]
        if window.after_id is not None:
            clauses.append("id > ?")
            args.append(window.after_id)
        if window.up_to_id is not None:
            clauses.append("id <= ?")
            args.append(window.up_to_id)
        return key, " AND ".join(clauses), args

    def _page_stmt(self, window: ReadingWindow) -> Select[tuple[str]]:
        """Portable form: the page's ids from the covering index, then their rows, re-ordered."""
        r = t.readings
        key = r.c.inserted_us if window.order == "inserted" else r.c.time_us
        owner = (
            r.c.project_id == window.project_id
            if window.device_id is None
            else r.c.device_id == window.device_id
        )
        ids = select(r.c.id, key.label("key")).where(owner, key >= window.since_us, key <= window.until_us)
        if window.after_id is not None:
            ids = ids.where(r.c.id > window.after_id)
        if window.up_to_id is not None:
            ids = ids.where(r.c.id <= window.up_to_id)
        page = ids.order_by(key, r.c.id).limit(window.limit).offset(window.offset).subquery("page")
        return (
            select(r.c.awt_json)
            .select_from(page.join(r, r.c.id == page.c.id))
            .order_by(page.c.key, page.c.id)
        )

    async def stream_awt_json(self, window: ReadingWindow) -> AsyncIterator[list[str]]:
        """The window's pre-rendered AWT readings, in chunks, without holding the whole page in memory.

        The page's ids are found first, from the covering (owner, key, id) index, so that a deep offset skips
        index entries rather than table rows; then their rows are read. On SQLite the statement is written
        out with CROSS JOIN, which fixes the page as the outer loop: rows come out in page order with no
        sort, and the driver's cursor is read directly, since SQLAlchemy's result layer costs more than
        SQLite itself on a 50,000-row page (docs/performance.md)."""
        async with self.engine.connect() as conn:
            if self.engine.dialect.name != "sqlite":
                result = await conn.stream(self._page_stmt(window))
                async for partition in result.scalars().partitions(STREAM_CHUNK_ROWS):
                    yield cast(list[str], partition)
                return
            key, where, args = self._page_filter(window)
            sql = (
                f"SELECT r.awt_json FROM (SELECT id FROM readings WHERE {where} ORDER BY {key}, id "
                "LIMIT ? OFFSET ?) AS page CROSS JOIN readings AS r ON r.id = page.id"
            )
            args += [-1 if window.limit is None else window.limit, window.offset]
            raw = await conn.get_raw_connection()
            cursor = await raw.driver_connection.execute(sql, args)  # type: ignore[union-attr]
            try:
                while rows := await cursor.fetchmany(STREAM_CHUNK_ROWS):
                    yield [row[0] for row in rows]
            finally:
                await cursor.close()

    # read cursors -------------------------------------------------------------------------------------

    async def move_cursor(
        self, credential_id: int, name: str, position: int, now_us: int
    ) -> tuple[int, int] | None:
        """Set the cursor to `position`; returns its previous (position, updated_us), None on first use."""
        c = t.read_cursors
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(c.c.position, c.c.updated_us).where(
                        c.c.credential_id == credential_id, c.c.name == name
                    )
                )
            ).first()
            if row is None:
                await conn.execute(
                    insert(c).values(
                        credential_id=credential_id, name=name, position=position, updated_us=now_us
                    )
                )
                return None
            await conn.execute(
                update(c)
                .where(c.c.credential_id == credential_id, c.c.name == name)
                .values(position=position, updated_us=now_us)
            )
            return int(row.position), int(row.updated_us)

    # helpers ------------------------------------------------------------------------------------------

    async def _one(self, stmt: Select[Any], convert: Callable[[Row[Any]], T]) -> T | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else convert(row)

    async def _all(self, stmt: Select[Any], convert: Callable[[Row[Any]], T]) -> list[T]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [convert(row) for row in rows]
