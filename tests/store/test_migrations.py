"""The Alembic migrations build exactly the tables of store/schema.py, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table

from fieldstation.codecs import CODECS, awt_frame
from fieldstation.core.clock import MICROS, FakeClock
from fieldstation.core.devices import HUB_TAG_BASE
from fieldstation.core.hub import build_hub
from fieldstation.core.models import CommandStatus, NewDevice, NewUplink
from fieldstation.core.ports import ReadingWindow, UplinkFilter
from fieldstation.dialects.awt import RATE_POLICY, RENDERER
from fieldstation.store.database import connect, current_revision, migrate
from fieldstation.store.partitions import is_partition
from fieldstation.store.repository import Store
from fieldstation.store.schema import belongs_to, metadata
from tests.services import postgres_server


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _differences(url: str) -> list[Any]:
    async def main() -> list[Any]:
        engine = connect(url)
        try:
            await migrate(engine)
            await migrate(engine)  # a second run at start-up is a no-op
            dialect = engine.dialect.name

            def on_this_store(item: Any, _name: Any, _type: Any, reflected: bool, _other: Any) -> bool:
                """Not the monthly partitions, which are parts of their tables; not what the other store
                alone has."""
                table = item if isinstance(item, Table) else getattr(item, "table", None)
                if table is not None and is_partition(table.name):
                    return False
                return reflected or belongs_to(dialect, item)

            options = {"include_object": on_this_store}
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync, opts=options), metadata)
                )
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_sqlite_migrations_match_the_schema(tmp_path: Path) -> None:
    assert _differences(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}") == []


@pytest.mark.postgres
def test_postgres_migrations_match_the_schema(postgres_url: str) -> None:
    assert _differences(postgres_url) == []


async def _round_trip(url: str) -> None:
    """Project, device, readings and an AWT page through the real store."""
    engine = connect(url)
    await migrate(engine)
    assert await current_revision(engine) is not None
    clock = FakeClock(1_790_000_000 * MICROS)
    hub = await build_hub(Store(engine), clock, renderer=RENDERER, codecs=CODECS, rate_policy=RATE_POLICY)
    try:
        created = await hub.projects.create("roundtrip")
        device = await hub.devices.add(created.project, NewDevice(name="t", tag_id=4, eui="00000000000000AA"))
        for n in range(3):
            frame = awt_frame.encode(
                tag_id=4, fix_time=1_789_999_000 + n, latitude=-1, longitude=2, voltage=3.7
            )
            await hub.ingestor.ingest(device, [NewUplink("test", frame, clock.now_us())])
        window = ReadingWindow(
            project_id=created.project.id, order="time", since_us=0, until_us=2**62, limit=2, offset=1
        )
        page = [
            orjson.loads(item)
            for chunk in [c async for c in hub.store.stream_awt_json(window)]
            for item in chunk
        ]
        assert [r["timestamp"] for r in page] == [1_789_999_001, 1_789_999_002]
        assert await hub.store.commit_horizon(created.project.id) > 0
        uplinks = [
            u
            for chunk in [c async for c in hub.store.stream_uplinks(UplinkFilter(created.project.id))]
            for u in chunk
        ]
        assert [u.time_us // MICROS for u in uplinks] == [1_789_999_000, 1_789_999_001, 1_789_999_002]
        command = await hub.commands.create(
            created.project, device, b"\x00" * 8, reference="r", expires_us=None
        )
        assert (await hub.commands.cancel(created.project, command.guid)).status is CommandStatus.CANCELLED
        activity = (await hub.store.device_activity(created.project.id))[device.id]
        assert activity.last_latitude == -1 and activity.last_command_us == command.created_us
        [day] = await hub.store.daily_usage(created.project.id, None, None, None)
        assert (day.messages_count, day.commands_count, day.commands_size) == (3, 1, 8)
        assert day.day_us == clock.now_us() // (86_400 * MICROS) * 86_400 * MICROS
    finally:
        await engine.dispose()


def test_sqlite_round_trip(tmp_path: Path) -> None:
    asyncio.run(_round_trip(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))


@pytest.mark.postgres
def test_postgres_round_trip(postgres_url: str) -> None:
    asyncio.run(_round_trip(postgres_url))


async def _tenancy_migration(url: str) -> None:
    """0005 on data written under 0004: a tagless device gets a tag from the hub's range and its stored AWT
    readings say so; outside ids become unique per project, not across the installation."""
    from sqlalchemy import text

    engine = connect(url)
    try:
        await migrate(engine, "0004")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO projects (id, name, short_id, created_us, auto_register, is_demo, settings) "
                    "VALUES (1, 'a', 'pa', 0, false, false, '{}'), (2, 'b', 'pb', 0, false, false, '{}')"
                )
            )
            for device_id, project_id, tag in ((1, 1, None), (2, 1, None), (3, 1, 7), (4, 2, None)):
                await conn.execute(
                    text(
                        "INSERT INTO devices (id, project_id, guid, short_id, name, tag_id, device_type, codec, "
                        "created_us) VALUES (:id, :p, :guid, :short, 'd', :tag, 'Astronode', 'passthrough', 0)"
                    ),
                    {
                        "id": device_id,
                        "p": project_id,
                        "guid": f"g{device_id}",
                        "short": f"s{device_id}",
                        "tag": tag,
                    },
                )
            await conn.execute(
                text(
                    "INSERT INTO readings (uid, project_id, device_id, time_us, inserted_us, values_json, awt_json) "
                    "VALUES ('r1', 1, 2, 0, 0, '{}', :awt)"
                ),
                {"awt": '{"recordId":"r1","tagId":null,"voltage":null}'},
            )
        await migrate(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, tag_id FROM devices ORDER BY id"))).all()
            tags = {row[0]: row[1] for row in rows}
            awt_json = await conn.scalar(text("SELECT awt_json FROM readings WHERE uid = 'r1'"))
        assert tags == {1: HUB_TAG_BASE, 2: HUB_TAG_BASE + 1, 3: 7, 4: HUB_TAG_BASE}
        assert orjson.loads(awt_json)["tagId"] == HUB_TAG_BASE + 1
        async with engine.begin() as conn:  # the same outside ids in another project are fine now
            await conn.execute(
                text(
                    "INSERT INTO devices (id, project_id, guid, short_id, name, device_type, codec, created_us) "
                    "VALUES (9, 2, 'g1', 's9', 'd', 'Astronode', 'passthrough', 0)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO readings (uid, project_id, device_id, time_us, inserted_us, partition_us, "
                    "values_json, awt_json) VALUES ('r1', 2, 4, 0, 0, 0, '{}', '{}')"
                )
            )
    finally:
        await engine.dispose()


def test_sqlite_tenancy_migration(tmp_path: Path) -> None:
    asyncio.run(_tenancy_migration(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))


@pytest.mark.postgres
def test_postgres_tenancy_migration(postgres_url: str) -> None:
    async def fresh_database() -> str:
        from sqlalchemy import text

        server = connect(postgres_url)
        try:
            async with server.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("CREATE DATABASE tenancy"))
        finally:
            await server.dispose()
        return postgres_url.rsplit("/", 1)[0] + "/tenancy"

    asyncio.run(_tenancy_migration(asyncio.run(fresh_database())))


def test_the_head_read_from_file_names_is_alembics() -> None:
    """`migrate` skips Alembic when the store is at `HEAD`, which it reads from the migrations' file names."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from fieldstation.store.database import HEAD, MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD
