"""What a source server sends is input like any other: hostile records (odd types, huge numbers, far
dates, long ids, deep nesting, text where numbers go) are stored or refused, one by one, and never stop an
import with an exception or leave something a view cannot show."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldstation.assembly import close_hub, open_hub
from fieldstation.client import AsyncAstrocastClient, AsyncAwtClient, AsyncInstathingsClient
from fieldstation.config import Settings
from fieldstation.core.hub import Hub
from fieldstation.core.models import Project
from fieldstation.core.ports import ReadingWindow, UplinkFilter
from fieldstation.imports import Checkpoint, ignore
from fieldstation.imports.astrocast import AstrocastImport
from fieldstation.imports.awt import AwtImport
from fieldstation.imports.instathings import InstathingsImport
from tests.fuzz.test_hostile_values import NASTY_JSON, NASTY_TEXT

EXAMPLES = 25


def _nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


DEEP = _nested(300)
"""Read by orjson (up to 1,024 levels), refused when written back (254)."""
ODD = NASTY_JSON | NASTY_TEXT | st.sampled_from([2**64, -1, 1e308, DEEP, "x" * 5_000])


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return value | ODD


AWT_READINGS = st.lists(
    st.fixed_dictionaries(
        {"recordId": maybe(st.uuids().map(str)), "tagId": maybe(st.sampled_from([1337, 2041]))},
        optional={
            key: ODD
            for key in (
                "timestamp", "latitude", "longitude", "voltage", "hdop", "accelerometer", "softwareVersion",
                "speed", "error", "warning", "movement",
            )
        },
    ),
    max_size=5,
)  # fmt: skip
ASTROCAST_MESSAGES = st.lists(
    st.fixed_dictionaries(
        {
            "messageGuid": maybe(st.uuids().map(str)),
            "deviceGuid": maybe(st.just("c984ff2b-e4d0-417f-8ea3-11d74a55d251")),
            "receivedDate": maybe(st.just("2026-09-21T10:00:00Z")),
        },
        optional={key: ODD for key in ("createdDate", "latitude", "longitude", "data")},
    ),
    max_size=5,
)
INSTATHINGS_RECORDS = st.lists(
    st.fixed_dictionaries(
        {
            "id": maybe(st.uuids().map(str)),
            "ts": maybe(st.integers(0, 2**42)),
            "data": maybe(st.just({"v": 1})),
        },
        optional={key: ODD for key in ("principal", "clientId", "ttl")},
    ),
    max_size=5,
)


class Target:
    """A hub to import into, on a loop of its own for the whole test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.loop = asyncio.new_event_loop()
        self.hub: Hub = self.loop.run_until_complete(open_hub(Settings(data_dir=directory, demo=False)))
        self.project: Project = self.loop.run_until_complete(self.hub.projects.create("copy")).project

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def views_still_work(self) -> None:
        async def read() -> None:
            window = ReadingWindow(project_id=self.project.id, order="time", since_us=0, until_us=2**62)
            async for _ in self.hub.readings.awt_pages(window):
                pass
            async for _ in self.hub.readings.uplinks(UplinkFilter(project_id=self.project.id)):
                pass
            for device in await self.hub.devices.list(self.project):
                await self.hub.readings.device_page(device, None, None, 0, 100)

        self.run(read())

    def close(self) -> None:
        self.run(close_hub(self.hub))
        self.loop.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Any:
    made = Target(tmp_path_factory.mktemp("hostile"))
    yield made
    made.close()


def checkpoint(target: Target, vendor: str) -> Checkpoint:
    return Checkpoint(target.directory, "copy", vendor, "hostile", "key")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(readings=AWT_READINGS, live=st.booleans())
def test_awt_readings(target: Target, readings: list[Any], live: bool) -> None:
    client = AsyncAwtClient("k", "u", "p", base_url="http://127.0.0.1:9")
    importer = AwtImport(target.hub, target.project, client, checkpoint(target, "awt"), ignore)
    target.run(importer.store(readings, live=live))
    tally = importer.tally
    assert tally.records + tally.already_there + tally.refused_count == len(readings)
    target.views_still_work()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=ASTROCAST_MESSAGES, live=st.booleans())
def test_astrocast_messages(target: Target, messages: list[Any], live: bool) -> None:
    client = AsyncAstrocastClient("k", base_url="http://127.0.0.1:9")
    importer = AstrocastImport(target.hub, target.project, client, checkpoint(target, "astrocast"), ignore)
    window: Any = {"start": "2026-09-21T00:00:00Z", "end": "2026-09-22T00:00:00Z", "messages": messages}
    target.run(importer.store(window, live=live))
    tally = importer.tally
    assert tally.records + tally.already_there + tally.refused_count == len(messages)
    target.views_still_work()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=INSTATHINGS_RECORDS, device=st.fixed_dictionaries({"id": maybe(st.just("A1Owj4Eu"))}, optional={key: ODD for key in ("name", "type", "protocols", "parameters", "frequency", "isGateway", "isVirtual", "parentDevice")}))  # fmt: skip
def test_instathings_devices_and_records(target: Target, records: list[Any], device: dict[str, Any]) -> None:
    client = AsyncInstathingsClient("id", "secret", base_url="http://127.0.0.1:9")
    importer = InstathingsImport(
        target.hub, target.project, client, checkpoint(target, "instathings"), ignore
    )
    target.run(importer.copy_devices([device]))
    source_id = device["id"]
    if isinstance(source_id, str) and source_id in importer.mapping:
        copied = target.run(importer._known(source_id))
        before = importer.tally.refused_count
        target.run(importer.store(copied, records, live=False))
        tally = importer.tally
        assert tally.records + tally.already_there + tally.refused_count - before == len(records)
    target.views_still_work()
