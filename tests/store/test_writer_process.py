"""The SQLite writer process: a batch is committed before it is answered; a process that dies costs only
the batch in flight, which is reported as the store being unavailable, and the next batch starts a new
one; a batch the database refuses fails alone and leaves the process serving."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from fieldstation.codecs import CODECS, awt_frame
from fieldstation.core.clock import MICROS, FakeClock
from fieldstation.core.errors import StoreUnavailable
from fieldstation.core.hub import Hub, build_hub
from fieldstation.core.models import Device, NewDevice, NewUplink
from fieldstation.dialects.awt import RATE_POLICY, RENDERER
from fieldstation.store.database import connect, migrate
from fieldstation.store.repository import Store
from fieldstation.store.writer_process import CHECKPOINT_EVERY_S, WriteRefused, WriterProcess


def _run(tmp_path: Path, scenario: Callable[[Hub], Awaitable[None]]) -> None:
    async def main() -> None:
        engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        await migrate(engine)
        store = Store(engine)
        hub = await build_hub(
            store,
            FakeClock(1_790_000_000 * MICROS),
            renderer=RENDERER,
            codecs=CODECS,
            rate_policy=RATE_POLICY,
        )
        try:
            await scenario(hub)
        finally:
            await store.close()

    asyncio.run(main())


async def _device(hub: Hub) -> Device:
    created = await hub.projects.create("writer")
    return await hub.devices.add(created.project, NewDevice(name="t", tag_id=4, eui="00000000000000AA"))


def _uplink(hub: Hub, n: int) -> NewUplink:
    frame = awt_frame.encode(tag_id=4, fix_time=1_789_999_000 + n, latitude=-1, longitude=2, voltage=3.7)
    return NewUplink("test", frame, hub.clock.now_us(), eui="00000000000000AA", f_cnt=n)


def _writer(hub: Hub) -> WriterProcess:
    writer = hub.store._sqlite_writer  # type: ignore[attr-defined]
    assert isinstance(writer, WriterProcess)
    return writer


def _pid(writer: WriterProcess) -> int:
    assert writer.pid is not None
    return writer.pid


def _count(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM readings").fetchone()[0])


def test_a_killed_writer_is_replaced_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    async def scenario(hub: Hub) -> None:
        device = await _device(hub)
        first = await hub.ingestor.ingest(device, [_uplink(hub, 1), _uplink(hub, 2)])
        assert [stored.duplicate for stored in first] == [False, False]
        writer = _writer(hub)
        before = _pid(writer)
        os.kill(before, signal.SIGKILL)
        assert writer._link is not None
        await writer._link.process.wait()
        again = await hub.ingestor.ingest(device, [_uplink(hub, 2), _uplink(hub, 3)])
        assert _pid(writer) != before
        assert again[0].duplicate and again[0].uid == first[1].uid
        assert not again[1].duplicate
        assert _count(tmp_path) == 3

    _run(tmp_path, scenario)


def test_a_writer_killed_unnoticed_fails_one_batch_as_unavailable(tmp_path: Path) -> None:
    async def scenario(hub: Hub) -> None:
        device = await _device(hub)
        await hub.ingestor.ingest(device, [_uplink(hub, 1)])
        writer = _writer(hub)
        os.kill(_pid(writer), signal.SIGKILL)
        await asyncio.sleep(0.2)  # dead, and not yet reaped: the next exchange meets a closed socket
        try:
            await hub.ingestor.ingest(device, [_uplink(hub, 2)])
        except StoreUnavailable:
            await hub.ingestor.ingest(device, [_uplink(hub, 2)])
        assert _count(tmp_path) == 2

    _run(tmp_path, scenario)


def test_a_refused_batch_fails_alone(tmp_path: Path) -> None:
    async def scenario(hub: Hub) -> None:
        device = await _device(hub)
        writer = _writer(hub)
        bad = _uplink(hub, 1)
        huge = NewUplink(
            bad.source, bad.payload, bad.received_us, eui=bad.eui, f_cnt=2**64
        )  # no INTEGER holds it
        with pytest.raises(WriteRefused, match="OverflowError"):
            await hub.ingestor.ingest(device, [huge])
        pid = _pid(writer)
        await hub.ingestor.ingest(device, [_uplink(hub, 1)])
        assert _pid(writer) == pid and _count(tmp_path) == 1

    _run(tmp_path, scenario)


def test_a_cancelled_caller_does_not_desynchronise_the_exchange(tmp_path: Path) -> None:
    async def scenario(hub: Hub) -> None:
        device = await _device(hub)
        await hub.ingestor.ingest(device, [_uplink(hub, 1)])  # the process is up
        cancelled = asyncio.ensure_future(hub.ingestor.ingest(device, [_uplink(hub, 2)]))
        await asyncio.sleep(0)  # the batch is sent; its answer is on its way
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        stored = await hub.ingestor.ingest(device, [_uplink(hub, 3), _uplink(hub, 2)])
        assert [s.duplicate for s in stored] == [False, True]  # this batch's answer, not the other's
        assert _count(tmp_path) == 3  # the cancelled caller's batch was written all the same

    _run(tmp_path, scenario)


def test_the_process_stops_with_the_store(tmp_path: Path) -> None:
    processes: list[asyncio.subprocess.Process | None] = []

    async def scenario(hub: Hub) -> None:
        await hub.ingestor.ingest(await _device(hub), [_uplink(hub, 1)])
        link = _writer(hub)._link
        processes.append(None if link is None else link.process)

    _run(tmp_path, scenario)
    [process] = processes
    assert process is not None and process.returncode == 0


def test_the_wal_is_copied_into_the_database_off_the_commit_path(tmp_path: Path) -> None:
    """The writer's commits never checkpoint (that would make a batch wait); a thread of the writer
    process does, every `CHECKPOINT_EVERY_S`: the database file takes in what the WAL holds."""

    async def scenario(hub: Hub) -> None:
        device = await _device(hub)
        await hub.ingestor.ingest(device, [_uplink(hub, n) for n in range(200)])
        database = tmp_path / "db.sqlite"
        before = database.stat().st_size
        for _ in range(int(CHECKPOINT_EVERY_S * 30)):  # a checkpoint comes within a second; allow three
            await asyncio.sleep(0.1)
            if database.stat().st_size > before:
                return
        raise AssertionError(f"the database file stayed at {before} bytes: the WAL was not checkpointed")

    _run(tmp_path, scenario)
