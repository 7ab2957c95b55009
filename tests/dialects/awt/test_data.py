"""GET /devices, /data, /data/{tagId}, /data/archive, /data/archive/{tagId} and /data/latest, pinned to the
seed's fields, types, filters and page sizes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fieldstation.codecs import awt_frame
from fieldstation.core.clock import MICROS
from fieldstation.core.models import CredentialKind
from fieldstation.core.projects import CreatedProject
from fieldstation.dialects.awt.render import READING_FIELDS
from fieldstation.store import schema
from tests.backends import SQLITE, Backend
from tests.conftest import START_S, Harness

DAY = 86_400
TAG_NOT_FOUND = {"error": "Tag ID not found or you do not have permission to access this resource."}
SEED_READING: dict[str, Any] = {
    "recordId": "123456abc",
    "tagId": 1337,
    "softwareVersion": 70,
    "reportingInterval": "1_hour",
    "voltage": 3.67,
    "batteryPercentage": 66.78,
    "timestamp": 1583020800,
    "latitude": -25.730598,
    "longitude": 28.219429,
    "accelerometer": {"x": 9997, "y": 364, "z": -14998},
    "hdop": "10m",
    "hdopRaw": 1,
    "movement": True,
    "alarm": False,
    "coverage": True,
    "retries": 0,
    "speed": 10,
    "temperature": 24,
    "altitude": 1000,
    "lux": 2000,
}


def _types(reading: dict[str, Any]) -> dict[str, type]:
    return {key: type(value) for key, value in reading.items()}


def test_devices_list_has_the_seeds_fields_and_types(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "A0C9B00000794AB5", asset="Savannah Elephant", software_version=70)
    response = harness.client.get("/awt/v2/devices", headers=harness.awt(created))
    assert response.status_code == 200
    [device] = response.json()
    assert device == {
        "tag_id": "1337",
        "imei": "A0C9B00000794AB5",
        "device_type": "LoRA",
        "asset": "Savannah Elephant",
        "software_version": 70,
        "created_at": START_S,
    }


def test_reading_object_reproduces_the_seeds_example(harness: Harness) -> None:
    """The seed's reading, sent as a frame, comes back field for field, in the seed's order."""
    created = harness.project()
    device = harness.device(created.project, 1337, "A0C9B00000794AB5")
    harness.fix(
        device,
        1583020800,
        voltage=3.67,
        accelerometer=(9997, 364, -14998),
        hdop_raw=1,
        movement=True,
        alarm=False,
        alarms=0x20,
        retries=0,
        speed=10,
        temperature=24,
        payload_type=awt_frame.TYPE_ALTITUDE_LIGHT,
        altitude=1000,
        lux=2000,
    )
    [reading] = harness.client.get(
        "/awt/v2/data/archive", params={"start": 0}, headers=harness.awt(created)
    ).json()
    assert list(reading) == list(READING_FIELDS)
    # The frame carries minutes to 10^-4, about 1.7e-6 degrees: the seed's sixth decimal may move by one.
    position = ("recordId", "latitude", "longitude")
    assert {k: v for k, v in reading.items() if k not in position} == {
        k: v for k, v in SEED_READING.items() if k not in position
    }
    assert reading["latitude"] == pytest.approx(SEED_READING["latitude"], abs=2e-6)
    assert reading["longitude"] == pytest.approx(SEED_READING["longitude"], abs=2e-6)
    assert _types(reading) == _types(SEED_READING)


def test_unparsable_payload_is_a_reading_with_error_and_nulls(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1337, "A0C9B00000794AB5")
    harness.uplink(device, bytes.fromhex("9300d1227001"))
    [reading] = harness.client.get("/awt/v2/data", headers=harness.awt(created)).json()
    assert list(reading) == [*READING_FIELDS, "error"]
    assert reading["tagId"] == 1337
    assert isinstance(reading["recordId"], str)
    assert "too short" in reading["error"]
    assert all(reading[f] is None for f in READING_FIELDS if f not in ("recordId", "tagId"))


def test_error_field_is_absent_from_good_readings(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    harness.fix(device, START_S - 60)
    [reading] = harness.client.get("/awt/v2/data", headers=harness.awt(created)).json()
    assert "error" not in reading


def test_data_filters_by_inserted_at_and_archive_by_timestamp(harness: Harness) -> None:
    """A fix taken long ago but inserted now is recent data; a fix taken now is in the archive's present."""
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    harness.fix(device, 1_500_000_000)  # taken in 2017, inserted at START_S
    headers = harness.awt(created)
    recent = harness.client.get("/awt/v2/data", params={"start": START_S - 10}, headers=headers).json()
    assert [r["timestamp"] for r in recent] == [1_500_000_000]
    assert harness.client.get("/awt/v2/data", params={"end": START_S - 1}, headers=headers).json() == []
    archive = harness.client.get(
        "/awt/v2/data/archive", params={"start": 1_499_999_999, "end": 1_500_000_000}, headers=headers
    )
    assert [r["timestamp"] for r in archive.json()] == [1_500_000_000]
    after = harness.client.get("/awt/v2/data/archive", params={"start": 1_500_000_001}, headers=headers)
    assert after.json() == []


def test_data_never_reaches_further_than_90_days(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    harness.fix(device, START_S)
    harness.clock.advance(91 * DAY)
    harness.fix(device, START_S + 91 * DAY)
    headers = harness.awt(created)
    for params in ({}, {"start": 0}, {"start": START_S - 1}):
        readings = harness.client.get("/awt/v2/data", params=params, headers=headers).json()
        assert [r["timestamp"] for r in readings] == [START_S + 91 * DAY], params
    archive = harness.client.get("/awt/v2/data/archive", headers=headers).json()
    assert [r["timestamp"] for r in archive] == [START_S, START_S + 91 * DAY]


def test_archive_start_defaults_to_2016(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    harness.fix(device, 1_451_606_399)  # one second before 2016-01-01
    harness.fix(device, 1_451_606_400)
    readings = harness.client.get("/awt/v2/data/archive", headers=harness.awt(created)).json()
    assert [r["timestamp"] for r in readings] == [1_451_606_400]


def test_end_is_inclusive_to_the_second(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    harness.fix(device, START_S - 100)
    headers = harness.awt(created)
    readings = harness.client.get(
        "/awt/v2/data", params={"start": START_S, "end": START_S}, headers=headers
    ).json()
    assert len(readings) == 1


def test_tag_endpoints_select_one_tag(harness: Harness) -> None:
    created = harness.project()
    one = harness.device(created.project, 1, "0000000000000001")
    two = harness.device(created.project, 2, "0000000000000002")
    for minute in range(3):
        harness.fix(one, START_S - 3600 + minute * 60)
        harness.fix(two, START_S - 3600 + minute * 60)
    headers = harness.awt(created)
    for path in ("/awt/v2/data/2", "/awt/v2/data/archive/2"):
        readings = harness.client.get(path, headers=headers).json()
        assert [r["tagId"] for r in readings] == [2, 2, 2], path


@pytest.mark.parametrize("path", ["/awt/v2/data/99", "/awt/v2/data/archive/99"])
def test_unknown_tag_is_404(harness: Harness, path: str) -> None:
    created = harness.project()
    response = harness.client.get(path, headers=harness.awt(created))
    assert response.status_code == 404
    assert response.json() == TAG_NOT_FOUND


@pytest.mark.parametrize("path", ["/awt/v2/data/1", "/awt/v2/data/archive/1"])
def test_another_projects_tag_is_404_and_its_data_invisible(harness: Harness, path: str) -> None:
    mine = harness.project("mine")
    theirs = harness.project("theirs")
    device = harness.device(theirs.project, 1, "0000000000000001")
    harness.fix(device, START_S - 60)
    headers = harness.awt(mine)
    response = harness.client.get(path, headers=headers)
    assert response.status_code == 404
    assert response.json() == TAG_NOT_FOUND
    for everything in ("/awt/v2/devices", "/awt/v2/data", "/awt/v2/data/archive", "/awt/v2/data/latest"):
        assert harness.client.get(everything, headers=headers).json() == [], everything


def test_same_tag_id_in_two_projects_stays_apart(harness: Harness) -> None:
    mine = harness.project("mine")
    theirs = harness.project("theirs")
    harness.fix(harness.device(mine.project, 7, "0000000000000007"), START_S - 120, speed=1)
    harness.fix(harness.device(theirs.project, 7, "0000000000000007"), START_S - 60, speed=2)
    readings = harness.client.get("/awt/v2/data/7", headers=harness.awt(mine)).json()
    assert [r["speed"] for r in readings] == [1]


def test_latest_returns_what_was_inserted_since_the_previous_call(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    harness.fix(device, START_S - 2 * DAY)  # inserted 25 h before the first call: too old
    harness.clock.advance(DAY + 3600)
    harness.fix(device, START_S, speed=1)
    headers = harness.awt(created)
    first = harness.client.get("/awt/v2/data/latest", headers=headers).json()
    assert [r["speed"] for r in first] == [1]
    assert harness.client.get("/awt/v2/data/latest", headers=headers).json() == []
    harness.fix(device, START_S + 60, speed=2)
    harness.fix(device, START_S + 120, speed=3)
    assert [r["speed"] for r in harness.client.get("/awt/v2/data/latest", headers=headers).json()] == [2, 3]


def test_latest_looks_back_24_hours_at_most(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    headers = harness.awt(created)
    assert harness.client.get("/awt/v2/data/latest", headers=headers).json() == []
    harness.fix(device, START_S, speed=1)
    harness.clock.advance(DAY + 1)
    harness.fix(device, START_S + DAY, speed=2)
    headers = harness.awt(created)
    assert [r["speed"] for r in harness.client.get("/awt/v2/data/latest", headers=headers).json()] == [2]


def test_latest_cursor_belongs_to_the_credential(harness: Harness) -> None:
    created = harness.project()
    second = harness.run(lambda: harness.hub.projects.issue_credential(created.project, CredentialKind.AWT))
    device = harness.device(created.project, 1, "0000000000000001")
    harness.fix(device, START_S)
    assert len(harness.client.get("/awt/v2/data/latest", headers=harness.awt(created)).json()) == 1
    other = CreatedProject(created.project, {CredentialKind.AWT: second})
    assert len(harness.client.get("/awt/v2/data/latest", headers=harness.awt(other)).json()) == 1


def test_latest_never_skips_a_reading_that_commits_after_a_newer_one(
    harness: Harness, backend: Backend
) -> None:
    """Several writers (workers) commit out of id order: a reading whose transaction is still open when a
    later one commits must come in a later call, not be skipped by a cursor that moved past its id."""
    if backend.name == SQLITE:
        pytest.skip("SQLite has one writer at a time: its ids are commit-ordered already")
    created = harness.project()
    headers = harness.awt(created)
    device = harness.device(created.project, 1, "0000000000000001")
    engine: AsyncEngine = harness.hub.store.engine  # type: ignore[attr-defined]

    async def begin_slow_writer() -> AsyncConnection:
        connection = await engine.connect()
        await connection.begin()
        await connection.execute(
            insert(schema.readings).values(
                uid="slow", project_id=created.project.id, device_id=device.id, time_us=START_S * MICROS,
                inserted_us=START_S * MICROS, partition_us=START_S * MICROS, values_json="{}",
                awt_json='{"recordId": "slow"}',
            )
        )  # fmt: skip
        return connection

    slow = harness.run(begin_slow_writer)  # its id is taken, its commit is not done
    fast = harness.fix(device, START_S)
    assert harness.run(lambda: harness.hub.store.reading_by_uid(created.project.id, "slow")) is None
    first = [r["recordId"] for r in harness.client.get("/awt/v2/data/latest", headers=headers).json()]
    assert first == [], "nothing after the open transaction until it ends"

    async def commit() -> None:
        await slow.commit()
        await slow.close()

    harness.run(commit)
    second = [r["recordId"] for r in harness.client.get("/awt/v2/data/latest", headers=headers).json()]
    assert sorted(second) == sorted(["slow", fast.uid])
    assert harness.client.get("/awt/v2/data/latest", headers=headers).json() == []


def test_stored_times_are_integers_of_epoch_microseconds(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    stored = harness.fix(device, START_S - 5)
    [reading] = harness.client.get("/awt/v2/data", headers=harness.awt(created)).json()
    assert reading["recordId"] == stored.uid
    row = harness.run(lambda: harness.hub.store.reading_by_uid(created.project.id, reading["recordId"]))
    assert row is not None
    assert row.time_us == (START_S - 5) * MICROS
    assert row.inserted_us == START_S * MICROS
