"""PostgreSQL's monthly partitions of readings and uplinks (store/partitions.py): a repeat is one uplink
across a month's end, the hub makes partitions ahead, a window reads only the partitions it needs,
retention drops whole partitions, and the migration moves an existing database into partitions."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from fieldstation.app import create_app
from fieldstation.codecs import CODECS, awt_frame
from fieldstation.config import Settings
from fieldstation.core.clock import MICROS, FakeClock
from fieldstation.core.hub import Hub, build_hub
from fieldstation.core.ingest import DEDUP_WINDOW_US, dedup_key
from fieldstation.core.models import Device, NewDevice, NewUplink, Project
from fieldstation.core.ports import ReadingWindow
from fieldstation.core.retention import DAY_US, keep_partitions, purge
from fieldstation.dialects.awt import RATE_POLICY, RENDERER
from fieldstation.store.database import connect, migrate
from fieldstation.store.partitions import month_of, month_start_us, partition_name
from fieldstation.store.repository import Store
from tests.services import postgres_database, postgres_server

pytestmark = pytest.mark.postgres

THIS_MONTH = month_of(int(time.time()) * MICROS)
_databases = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def database(server: str) -> str:
    return postgres_database(server, f"partitions_{next(_databases)}")


class Station:
    """A hub on its own database, its clock, and one project with one tag."""

    def __init__(
        self, engine: AsyncEngine, hub: Hub, clock: FakeClock, project: Project, device: Device, database: str
    ) -> None:
        self.engine, self.hub, self.clock, self.project, self.device = engine, hub, clock, project, device
        self.database = database
        self._counter = itertools.count()

    def uplink(self, fix_time_us: int | None = None, f_cnt: int | None = None) -> NewUplink:
        fix_s = (fix_time_us or self.clock.now_us()) // MICROS
        frame = awt_frame.encode(tag_id=4, fix_time=fix_s, latitude=-1.5, longitude=30.25, voltage=3.7)
        count = next(self._counter) if f_cnt is None else f_cnt
        return NewUplink("ttn", frame, self.clock.now_us(), eui=self.device.eui, f_cnt=count)

    async def ingest(self, *uplinks: NewUplink) -> list[tuple[str, bool]]:
        stored = await self.hub.ingestor.ingest(self.device, list(uplinks))
        return [(s.uid, s.duplicate) for s in stored]

    async def rows(self, sql: str) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())


def in_a_station(body: Callable[[Station], Awaitable[None]]) -> Callable[[str], None]:
    """A test run on a hub of its own database (tests here are plain functions that run their loop)."""

    def test(database: str) -> None:
        async def main() -> None:
            engine = connect(database)
            await migrate(engine)
            clock = FakeClock(month_start_us(THIS_MONTH) + 10 * DAY_US)
            hub = await build_hub(
                Store(engine), clock, renderer=RENDERER, codecs=CODECS, rate_policy=RATE_POLICY
            )
            created = await hub.projects.create("parts")
            device = await hub.devices.add(
                created.project, NewDevice(name="t", tag_id=4, eui="00000000000000AA")
            )
            try:
                await body(Station(engine, hub, clock, created.project, device, database))
            finally:
                await engine.dispose()

        asyncio.run(main())

    test.__name__, test.__doc__ = body.__name__, body.__doc__
    return test


def _at(clock: FakeClock, at_us: int) -> None:
    clock.set(at_us / MICROS)


async def _where(station: Station, uid: str) -> str:
    [(table,)] = await station.rows(f"SELECT tableoid::regclass::text FROM readings WHERE uid = '{uid}'")
    return str(table)


@in_a_station
async def test_a_repeat_across_a_months_end_is_one_uplink(station: Station) -> None:
    """The reason the dedup keys left the uplinks table: a unique index of a partitioned table holds only
    within a partition, and a retry landing a second after midnight on the 1st would be stored again."""
    fix_us = month_start_us(THIS_MONTH + 1) - 60 * MICROS
    _at(station.clock, month_start_us(THIS_MONTH + 1) - MICROS // 2)
    [(uid, duplicate)] = await station.ingest(station.uplink(fix_us, f_cnt=7))
    assert not duplicate
    _at(station.clock, month_start_us(THIS_MONTH + 1) + MICROS // 2)
    assert await station.ingest(station.uplink(fix_us, f_cnt=7)) == [(uid, True)]
    [(count,)] = await station.rows("SELECT count(*) FROM uplinks")
    assert count == 1
    assert await _where(station, uid) == partition_name("readings", THIS_MONTH)

    station.clock.advance(DEDUP_WINDOW_US / MICROS + 1)  # past the window, the same key is a new uplink
    [(later, again), repeat] = await station.ingest(
        station.uplink(fix_us, f_cnt=7), station.uplink(fix_us, f_cnt=7)
    )
    assert (later != uid, again, repeat) == (True, False, (later, True))
    assert await _where(station, later) == partition_name("readings", THIS_MONTH + 1)
    assert await station.ingest(station.uplink(fix_us, f_cnt=7)) == [(later, True)]


@in_a_station
async def test_two_writers_never_both_store_one_key(station: Station) -> None:
    """Two hubs on one database (two workers) given the same uplinks at the same moment."""
    engine = connect(station.database)
    other = await build_hub(
        Store(engine), station.clock, renderer=RENDERER, codecs=CODECS, rate_policy=RATE_POLICY
    )
    try:
        for f_cnt in range(100, 140):
            uplinks = [station.uplink(f_cnt=f_cnt)]
            first, second = await asyncio.gather(
                station.hub.ingestor.ingest(station.device, uplinks),
                other.ingestor.ingest(station.device, uplinks),
            )
            assert sorted(s.duplicate for s in first + second) == [False, True]
            assert first[0].uid == second[0].uid
    finally:
        await engine.dispose()
    [(count,)] = await station.rows("SELECT count(*) FROM readings")
    assert count == 40


@in_a_station
async def test_the_hub_makes_partitions_ahead_and_moves_rows_out_of_the_default(station: Station) -> None:
    await keep_partitions(station.hub.store, station.clock)
    tables = {name for (name,) in await station.rows("SELECT relname FROM pg_class WHERE relkind = 'r'")}
    for month in range(THIS_MONTH - 1, THIS_MONTH + 4):
        assert {partition_name("readings", month), partition_name("uplinks", month)} <= tables
    # A collar whose clock runs half a year ahead: no partition for its month yet, so the default one.
    ahead = month_start_us(THIS_MONTH + 6) + 3 * DAY_US
    [(uid, _)] = await station.ingest(station.uplink(fix_time_us=ahead))
    assert await _where(station, uid) == "readings_other"

    _at(station.clock, month_start_us(THIS_MONTH + 5))
    made = await keep_partitions(station.hub.store, station.clock)
    assert partition_name("readings", THIS_MONTH + 6) in made
    assert await _where(station, uid) == partition_name("readings", THIS_MONTH + 6)
    assert await keep_partitions(station.hub.store, station.clock) == []
    page = await _page(station, ahead - DAY_US)
    assert [reading["recordId"] for reading in page] == [uid]


async def _page(station: Station, since_us: int) -> list[dict[str, Any]]:
    window = ReadingWindow(
        project_id=station.project.id, order="time", since_us=since_us, until_us=2**62, limit=1000
    )
    return [orjson.loads(item) async for chunk in station.hub.store.stream_awt_json(window) for item in chunk]


@in_a_station
async def test_a_window_reads_only_the_partitions_from_its_month_on(station: Station) -> None:
    for month in range(THIS_MONTH - 3, THIS_MONTH + 1):
        _at(station.clock, month_start_us(month) + DAY_US)
        await keep_partitions(station.hub.store, station.clock)
        await station.ingest(station.uplink())
    since = month_start_us(THIS_MONTH - 1) + 2 * DAY_US
    for order in ("time", "inserted"):
        window = ReadingWindow(
            project_id=station.project.id,
            order=order,
            since_us=since,
            until_us=2**62,
            limit=1000,
        )
        sql, args = Store.page_sql(window, sqlite=False)
        async with station.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            plan = "\n".join(row[0] for row in await driver.fetch(f"EXPLAIN (ANALYZE) {sql}", *args))
        executed = [line for line in plan.splitlines() if "never executed" not in line]
        touched = {
            month
            for month in range(THIS_MONTH - 4, THIS_MONTH + 4)
            if any(f"on {partition_name('readings', month)} " in line for line in executed)
        }
        assert touched == set(range(THIS_MONTH - 1, THIS_MONTH + 4)), plan
    assert len(await _page(station, since)) == 1  # this month's; last month's was before `since`
    # Plans are made for each run's window: a prepared statement's generic plan, which PostgreSQL may
    # switch to after five runs, cannot leave partitions out by the window (database.POSTGRES_SETTINGS).
    async with station.engine.connect() as conn:
        assert await conn.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"


@in_a_station
async def test_retention_drops_whole_partitions_past_every_projects_retention(station: Station) -> None:
    hub = station.hub
    await hub.projects.configure(station.project, retention_days=40)
    shorter = (await hub.projects.create("shorter")).project
    await hub.projects.configure(shorter, retention_days=10)
    other = await hub.devices.add(shorter, NewDevice(name="s", tag_id=5, eui="00000000000000BB"))
    uids: dict[int, str] = {}
    for month in range(THIS_MONTH - 3, THIS_MONTH + 1):
        _at(station.clock, month_start_us(month) + 20 * DAY_US)
        await keep_partitions(hub.store, station.clock)
        [(uids[month], _)] = await station.ingest(station.uplink(f_cnt=month))
        await hub.ingestor.ingest(other, [NewUplink("ttn", station.uplink().payload, station.clock.now_us())])
    _at(station.clock, month_start_us(THIS_MONTH) + 25 * DAY_US)
    # 40 days back is in last month: the two months before it go whole (4 readings, both projects');
    # then the shorter retention (10 days back, in this month) deletes last month's reading of its own.
    assert await purge(hub.store, station.clock) == 4 + 1
    tables = {name for (name,) in await station.rows("SELECT relname FROM pg_class WHERE relkind = 'r'")}
    for table in ("readings", "uplinks"):
        assert partition_name(table, THIS_MONTH - 3) not in tables
        assert partition_name(table, THIS_MONTH - 2) not in tables
        assert partition_name(table, THIS_MONTH - 1) in tables
    left = {
        uid
        for (uid,) in await station.rows(f"SELECT uid FROM readings WHERE project_id = {station.project.id}")
    }
    assert left == {uids[THIS_MONTH - 1], uids[THIS_MONTH]}
    [(keys,)] = await station.rows("SELECT count(*) FROM uplink_keys")
    [(uplinks,)] = await station.rows("SELECT count(*) FROM uplinks")
    assert keys == uplinks == 3


def test_the_migration_moves_existing_rows_into_partitions(database: str) -> None:
    asyncio.run(_migration(database))


async def _migration(database: str) -> None:
    """Rows written under 0010 keep their ids, land in their months' partitions (a month ten years back in
    the default one), and their dedup keys still recognise a repeat."""
    engine = connect(database)
    now_us = month_start_us(THIS_MONTH) + 5 * DAY_US
    times = {1: now_us, 2: month_start_us(THIS_MONTH - 2), 3: month_start_us(THIS_MONTH - 130)}
    eui = "00000000000000AA"
    uplinks = {n: NewUplink("ttn", b"frame %d" % n, at, eui=eui, f_cnt=n) for n, at in times.items()}
    try:
        await migrate(engine, "0010")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO projects (id, name, short_id, created_us, auto_register, is_demo, settings) "
                    "VALUES (1, 'p', 'pa', 0, false, false, '{}')"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO devices (id, project_id, guid, short_id, name, tag_id, eui, device_type, "
                    f"codec, created_us) VALUES (1, 1, 'g', 's', 'd', 4, '{eui}', 'tag', 'awt-frame', 0)"
                )
            )
            for n, at in times.items():
                await conn.execute(
                    text(
                        "INSERT INTO uplinks (id, project_id, device_id, source, received_us, inserted_us, "
                        "payload, raw, meta, dedup_key) VALUES (:n, 1, 1, 'ttn', :at, :at, '', '', '{}', :key)"
                    ),
                    {"n": n, "at": at, "key": dedup_key(uplinks[n])},
                )
                await conn.execute(
                    text(
                        "INSERT INTO readings (id, uid, project_id, device_id, uplink_id, time_us, inserted_us, "
                        "values_json, awt_json) VALUES (:n, :uid, 1, 1, :n, :time, :at, '{}', '{}')"
                    ),
                    {"n": n, "uid": f"r{n}", "time": at - DAY_US, "at": at},
                )
            await conn.execute(text("SELECT setval('readings_id_seq', 3), setval('uplinks_id_seq', 3)"))
        await migrate(engine)
        async with engine.connect() as conn:
            placed: dict[str, str] = dict(
                (await conn.execute(text("SELECT uid, tableoid::regclass::text FROM readings"))).all()
            )
            keys = (await conn.execute(text("SELECT dedup_key, uid FROM uplink_keys ORDER BY uid"))).all()
            partition_us = await conn.scalar(text("SELECT partition_us FROM readings WHERE id = 2"))
        assert placed == {
            "r1": partition_name("readings", THIS_MONTH),
            "r2": partition_name("readings", THIS_MONTH - 2),
            "r3": "readings_other",
        }
        assert [tuple(k) for k in keys] == [(dedup_key(uplinks[n]), f"r{n}") for n in (1, 2, 3)]
        assert partition_us == times[2]

        clock = FakeClock(now_us + MICROS)
        hub = await build_hub(Store(engine), clock, renderer=RENDERER, codecs=CODECS, rate_policy=RATE_POLICY)
        project = await hub.projects.by_id(1)
        assert project is not None
        [device] = await hub.devices.list(project)
        repeat, new = await hub.ingestor.ingest(
            device, [uplinks[1], NewUplink("ttn", b"new", now_us, eui=eui)]
        )
        assert (repeat.uid, repeat.duplicate, new.duplicate) == ("r1", True, False)
        async with engine.connect() as conn:
            assert await conn.scalar(text(f"SELECT id FROM readings WHERE uid = '{new.uid}'")) == 4
    finally:
        await engine.dispose()


def test_the_hub_makes_its_partitions_when_it_starts(database: str, tmp_path: Path) -> None:
    """The worker holding the retention lease makes the months around its clock's now at start."""
    later = THIS_MONTH + 20  # far from the months the migration made
    clock = FakeClock(month_start_us(later) + DAY_US)
    with TestClient(create_app(Settings(data_dir=tmp_path, demo=False, database_url=database), clock)):
        pass

    async def tables() -> set[str]:
        engine = connect(database)
        try:
            async with engine.connect() as conn:
                return set(
                    (await conn.execute(text("SELECT relname FROM pg_class WHERE relkind = 'r'"))).scalars()
                )
        finally:
            await engine.dispose()

    made = asyncio.run(tables())
    assert {partition_name(table, later + 3) for table in ("readings", "uplinks")} <= made
