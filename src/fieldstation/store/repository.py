"""Queries. The only module that knows the tables; it speaks in core types."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Row, Select, bindparam, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from fieldstation.core.errors import AlreadyExists
from fieldstation.core.models import (
    Credential,
    CredentialKind,
    Device,
    NewDevice,
    Project,
    Reading,
)
from fieldstation.core.ports import Fix, ReadingToStore, ReadingWindow, StoredReading
from fieldstation.store import schema as t
from fieldstation.store.batch_write import write_readings
from fieldstation.store.commands import CommandQueries
from fieldstation.store.database import streaming_connection
from fieldstation.store.failures import translated
from fieldstation.store.fleet import FleetQueries
from fieldstation.store.messages import MessageQueries
from fieldstation.store.operations import OperationQueries
from fieldstation.store.operators import OperatorQueries
from fieldstation.store.partitions import PartitionQueries
from fieldstation.store.rows import credential_row as _credential
from fieldstation.store.rows import device_row as _device
from fieldstation.store.rows import json_columns
from fieldstation.store.rows import project_row as _project
from fieldstation.store.rows import reading_row as _reading
from fieldstation.store.sqlite_batch import plan
from fieldstation.store.sqlite_reads import SqliteReads
from fieldstation.store.writer_process import WriterProcess

STREAM_CHUNK_ROWS = 2_000
TAG_ATTEMPTS = 20
"""Workers registering devices of one project at once may pick the same free tag id; each loser tries the
next one, this many times."""
T = TypeVar("T")


@translated
class Store(
    CommandQueries, MessageQueries, FleetQueries, OperationQueries, OperatorQueries, PartitionQueries
):
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sqlite_writer = None
        self._sqlite_reads: SqliteReads | None = None
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            if not database or database == ":memory:" or database.startswith("file:"):
                raise ValueError(
                    "SQLite must be a database file (its batches are written by a process of its own): "
                    f"got {engine.url}"
                )
            self._sqlite_writer = WriterProcess(Path(database))
            self._sqlite_reads = SqliteReads(Path(database))

    async def close(self) -> None:
        if self._sqlite_writer is not None:
            await self._sqlite_writer.close()
        if self._sqlite_reads is not None:
            self._sqlite_reads.close()
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

    async def ping(self) -> None:
        """Raises when the database cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.execute(select(1))

    # leases -------------------------------------------------------------------------------------------

    async def claim_lease(self, name: str, holder: str, now_us: int, ttl_us: int) -> bool:
        """One statement, atomic on both stores: insert, or take over when expired or already ours."""
        lease = t.leases
        dialect_insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        stmt = (
            dialect_insert(lease)
            .values(name=name, holder=holder, expires_us=now_us + ttl_us)
            .on_conflict_do_update(
                index_elements=[lease.c.name],
                set_={"holder": holder, "expires_us": now_us + ttl_us},
                where=(lease.c.holder == holder) | (lease.c.expires_us < now_us),
            )
        )
        async with self.engine.begin() as conn:
            return bool((await conn.execute(stmt)).rowcount)

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

    async def project_by_short_id(self, short_id: str) -> Project | None:
        return await self._one(select(t.projects).where(t.projects.c.short_id == short_id), _project)

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

    async def credential_by_id(self, credential_id: int) -> Credential | None:
        return await self._one(select(t.credentials).where(t.credentials.c.id == credential_id), _credential)

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
        self,
        *,
        project_id: int,
        device: NewDevice,
        guid: str,
        short_id: str,
        created_us: int,
        tag_from: int,
    ) -> Device:
        d = t.devices
        fields = {name: value for name, value in dataclasses.asdict(device).items() if name != "guid"}
        row = dict(fields, **json_columns(fields))
        if device.tag_id is None:
            # The next free tag id of the hub's range, in the insert itself.
            row["tag_id"] = (
                select(func.coalesce(func.max(d.c.tag_id) + 1, tag_from))
                .where(d.c.project_id == project_id, d.c.tag_id >= tag_from)
                .scalar_subquery()
            )
        stmt = (
            insert(d)
            .values(project_id=project_id, guid=guid, short_id=short_id, created_us=created_us, **row)
            .returning(d.c.id, d.c.tag_id)
        )
        # Two workers may pick the same free tag id at once; the loser tries the next one.
        for attempt in range(TAG_ATTEMPTS if device.tag_id is None else 1):
            try:
                async with self.engine.begin() as conn:
                    inserted = (await conn.execute(stmt)).one()
                break
            except IntegrityError as exc:
                if (
                    attempt == TAG_ATTEMPTS - 1
                    or device.tag_id is not None
                    or await self._taken(project_id, device, guid)
                ):
                    taken = f"tag id {device.tag_id}, EUI {device.eui} or GUID {guid}"
                    raise AlreadyExists(f"a device with {taken} already exists") from exc
        fields.update(tag_id=inserted.tag_id, protocols=device.protocols)
        return Device(
            id=inserted.id,
            project_id=project_id,
            guid=guid,
            short_id=short_id,
            created_us=created_us,
            **fields,
        )

    async def _taken(self, project_id: int, device: NewDevice, guid: str) -> bool:
        """Whether the device's EUI or GUID is already the project's (not merely a tag id raced for)."""
        d = t.devices
        identity = d.c.guid == guid if device.eui is None else (d.c.guid == guid) | (d.c.eui == device.eui)
        async with self.engine.connect() as conn:
            return bool(await conn.scalar(select(func.count()).where(d.c.project_id == project_id, identity)))

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

    async def device_by_guid(self, project_id: int, guid: str) -> Device | None:
        stmt = select(t.devices).where(t.devices.c.project_id == project_id, t.devices.c.guid == guid.lower())
        return await self._one(stmt, _device)

    async def device_by_eui(self, project_id: int, eui: str) -> Device | None:
        stmt = select(t.devices).where(t.devices.c.project_id == project_id, t.devices.c.eui == eui)
        return await self._one(stmt, _device)

    # uplinks and readings -----------------------------------------------------------------------------

    async def store_readings(
        self, items: Sequence[ReadingToStore], inserted_us: int, dedup_window_us: int
    ) -> list[StoredReading]:
        """Write uplinks and their readings in one transaction: on SQLite in the writer process
        (`store.writer_process`), elsewhere as `batch_write.write_readings` says."""
        if self._sqlite_writer is not None:
            written = await self._sqlite_writer.write(plan(items, inserted_us), inserted_us - dedup_window_us)
            return [StoredReading(uid, duplicate) for uid, duplicate in written]
        async with self.engine.begin() as conn:
            return await conn.run_sync(write_readings, items, inserted_us, dedup_window_us)

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

    async def reading_by_uid(self, project_id: int, uid: str) -> Reading | None:
        stmt = select(t.readings).where(t.readings.c.project_id == project_id, t.readings.c.uid == uid)
        return await self._one(stmt, _reading)

    async def rewrite_renderings(self, device_id: int, refresh: Callable[[str], str]) -> int:
        """Pass the device's stored AWT renderings through `refresh`, a chunk of rows a transaction."""
        r = t.readings
        rewritten, after_id = 0, 0
        while True:
            async with self.engine.begin() as conn:
                rows = (
                    await conn.execute(
                        select(r.c.id, r.c.partition_us, r.c.awt_json)
                        .where(r.c.device_id == device_id, r.c.id > after_id)
                        .order_by(r.c.id)
                        .limit(STREAM_CHUNK_ROWS)
                    )
                ).all()
                if not rows:
                    return rewritten
                # The partition key finds the row's partition on PostgreSQL (its primary key has both).
                await conn.execute(
                    update(r)
                    .where(r.c.id == bindparam("row_id"), r.c.partition_us == bindparam("row_partition"))
                    .values(awt_json=bindparam("rendered")),
                    [
                        {
                            "row_id": row.id,
                            "row_partition": row.partition_us,
                            "rendered": refresh(row.awt_json),
                        }
                        for row in rows
                    ],
                )
            rewritten += len(rows)
            after_id = rows[-1].id

    async def commit_horizon(self, project_id: int) -> int:
        """SQLite: the newest reading's id. One writer at a time holds the database's write lock from its
        first insert to its commit, so ids are already commit-ordered.

        PostgreSQL: one below the oldest transaction still running (its snapshot's xmin). A reading's
        position is the id of the transaction that wrote it (`committed_in`), and every transaction below
        the xmin has ended, so no reading at or below the horizon can still appear. A transaction left open
        holds the horizon back (never skips past it): `/data/latest` then answers with what came before."""
        async with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                value = await conn.scalar(
                    select(func.max(t.readings.c.id)).where(t.readings.c.project_id == project_id)
                )
                return int(value or 0)
            xmin = await conn.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))
            return int(xmin) - 1

    async def latest_device_time(self, device_id: int) -> int | None:
        async with self.engine.connect() as conn:
            value: int | None = await conn.scalar(
                select(func.max(t.readings.c.time_us)).where(t.readings.c.device_id == device_id)
            )
            return value

    @staticmethod
    def page_sql(window: ReadingWindow, sqlite: bool) -> tuple[str, list[Any]]:
        """A page's SQL and its arguments. The page's ids come first, from the covering (owner, key, id)
        index, so that a deep offset skips index entries rather than table rows; then their rows.

        SQLite: written with CROSS JOIN, which fixes the page as the outer loop, so rows come out in page
        order with no sort. PostgreSQL: each row is a scalar subquery on the primary key, in the page's
        order, again with no sort; the join form made PostgreSQL hash-join a scan of the whole table and
        sort the page on disk (690 ms against 190 ms for a 50,000-row page of a million readings). The
        partition key, from the covering index, takes each row's look-up to its own partition."""
        key = "inserted_us" if window.order == "inserted" else "time_us"
        owner, owner_id = (
            ("project_id", window.project_id) if window.device_id is None else ("device_id", window.device_id)
        )
        # Commit positions (commit_horizon): the id on SQLite, the writing transaction on PostgreSQL.
        position = "id" if sqlite else "committed_in"
        conditions: list[tuple[str, Any]] = [
            (f"{owner} = ", owner_id),
            (f"{key} >= ", window.since_us),
            (f"{key} <= ", window.until_us),
        ]
        if window.after_position is not None:
            conditions.append((f"{position} > ", window.after_position))
        if window.up_to_position is not None:
            conditions.append((f"{position} <= ", window.up_to_position))
        if not sqlite:
            # A reading's partition key is at least both its times: this skips the partitions of months
            # before the window (store/partitions.py).
            conditions.append(("partition_us >= ", window.since_us))
        args = [value for _, value in conditions]
        # No limit: -1 to SQLite, ALL to PostgreSQL (which refuses a negative one).
        args += [window.limit if window.limit is not None else -1 if sqlite else None, window.offset]
        if sqlite:
            where = " AND ".join(f"{condition}?" for condition, _ in conditions)
            sql = (
                f"SELECT r.awt_json FROM (SELECT id FROM readings WHERE {where} ORDER BY {key}, id "
                "LIMIT ? OFFSET ?) AS page CROSS JOIN readings AS r ON r.id = page.id"
            )
            return sql, args
        where = " AND ".join(f"{condition}${n}" for n, (condition, _) in enumerate(conditions, 1))
        sql = (
            "SELECT (SELECT r.awt_json FROM readings AS r "
            "WHERE r.id = page.id AND r.partition_us = page.part) FROM "
            f"(SELECT id, {key} AS key, partition_us AS part FROM readings WHERE {where} "
            f"ORDER BY {key}, id LIMIT ${len(args) - 1}::bigint OFFSET ${len(args)}) AS page "
            "ORDER BY page.key, page.id"
        )
        return sql, args

    async def stream_awt_json(self, window: ReadingWindow) -> AsyncIterator[list[str]]:
        """The window's pre-rendered AWT readings, in chunks, without holding the whole page in memory.

        The statement runs on the driver's own connection: SQLAlchemy's result layer costs more than the
        database itself on a 50,000-row page. A page of one chunk at most is read in one call (on SQLite,
        on the store's own read connections, `sqlite_reads.py`); a longer one through a cursor, a chunk at
        a time (docs/performance.md)."""
        sqlite = self.engine.dialect.name == "sqlite"
        sql, args = self.page_sql(window, sqlite)
        one_chunk = window.limit is not None and window.limit <= STREAM_CHUNK_ROWS
        if one_chunk and self._sqlite_reads is not None:
            rows = await self._sqlite_reads.first_column(sql, args)
            if rows:
                yield rows
            return
        if one_chunk:
            async with streaming_connection(self.engine) as conn:
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                rows = await (driver.execute_fetchall(sql, args) if sqlite else driver.fetch(sql, *args))
            if rows:
                yield [row[0] for row in rows]
            return
        async for chunk in self._driver_chunks(sql, args):
            yield [row[0] for row in chunk]

    async def _driver_chunks(self, sql: str, args: list[Any]) -> AsyncIterator[Sequence[Any]]:
        """The rows of a long read, a chunk at a time, through the driver's own cursor: SQLAlchemy's result
        layer costs more than the database itself on long reads (an export's fixes: 41 µs a row through
        `conn.stream`, against 3.4 µs of SQLite's own time)."""
        async with streaming_connection(self.engine) as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            if self.engine.dialect.name != "sqlite":
                # asyncpg's cursors live in a transaction; a read-only one, ended when the stream ends.
                async with driver.transaction(readonly=True):
                    cursor = await driver.cursor(sql, *args)
                    while rows := await cursor.fetch(STREAM_CHUNK_ROWS):
                        yield rows
                return
            cursor = await driver.execute(sql, args)
            try:
                while rows := await cursor.fetchmany(STREAM_CHUNK_ROWS):
                    yield rows
            finally:
                await cursor.close()

    def _fixes_where(self, since_us: int, until_us: int) -> list[Any]:
        r = t.readings
        return [
            r.c.time_us >= since_us,
            r.c.time_us <= until_us,
            r.c.latitude.is_not(None),
            r.c.longitude.is_not(None),
            r.c.error.is_(None),
        ]

    async def stream_fixes(self, device_id: int, since_us: int, until_us: int) -> AsyncIterator[list[Fix]]:
        """From the (device, time, id) index, in chunks, without holding the track in memory. A fix as
        `_fixes_where` says (its count's conditions), written for the driver."""
        mark = "?" if self.engine.dialect.name == "sqlite" else "${}"
        first, second, third = (mark.format(n) for n in (1, 2, 3))
        sql = (
            "SELECT time_us, latitude, longitude, values_json FROM readings "
            f"WHERE device_id = {first} AND time_us >= {second} AND time_us <= {third} "
            "AND latitude IS NOT NULL AND longitude IS NOT NULL AND error IS NULL ORDER BY time_us, id"
        )
        async for rows in self._driver_chunks(sql, [device_id, since_us, until_us]):
            yield [Fix(row[0], row[1], row[2], orjson.loads(row[3])) for row in rows]

    async def count_fixes(self, device_ids: Sequence[int], since_us: int, until_us: int) -> int:
        r = t.readings
        stmt = (
            select(func.count())
            .select_from(r)
            .where(r.c.device_id.in_(device_ids), *self._fixes_where(since_us, until_us))
        )
        async with self.engine.connect() as conn:
            return int(await conn.scalar(stmt) or 0)

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
