"""Paging by offset: page sizes, and a stable order that never skips or repeats a reading."""

from __future__ import annotations

import pytest

from fieldstation.codecs import awt_frame
from fieldstation.core.models import Device, NewUplink
from fieldstation.dialects.awt import app as awt_app
from fieldstation.dialects.awt import calls as awt_calls
from tests.conftest import START_S, Harness


def _bulk(harness: Harness, device: Device, count: int, fix_time: int) -> None:
    """`count` fixes, all with the same timestamp and inserted in one transaction (so one inserted_at):
    only the id can order them."""
    uplinks = [
        NewUplink(
            source="test",
            payload=awt_frame.encode(
                tag_id=1,
                fix_time=fix_time,
                latitude=-1.0,
                longitude=1.0,
                voltage=3.7,
                accelerometer=(n, 0, 0),
            ),
            received_us=harness.clock.now_us(),
        )
        for n in range(count)
    ]
    harness.run(lambda: harness.hub.ingestor.ingest(device, uplinks))


@pytest.mark.parametrize("path", ["/awt/v2/data", "/awt/v2/data/archive"])
def test_paging_covers_everything_once(harness: Harness, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    # The archive's 50,000-record page is exercised in bench/; here its size is shrunk to keep tests quick.
    monkeypatch.setattr(awt_calls, "RECENT_PAGE", 7)
    monkeypatch.setattr(awt_app, "ARCHIVE_PAGE", 7)
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    _bulk(harness, device, 30, START_S - 600)
    headers = harness.awt(created)
    seen: list[str] = []
    sizes = []
    offset = 0
    while True:
        readings = harness.client.get(path, params={"offset": offset}, headers=headers).json()
        if not readings:
            break
        sizes.append(len(readings))
        seen.extend(r["recordId"] for r in readings)
        offset += len(readings)
    assert sizes == [7, 7, 7, 7, 2]
    assert len(seen) == len(set(seen)) == 30


def test_page_sizes_are_the_seeds() -> None:
    assert awt_calls.RECENT_PAGE == 1000
    assert awt_app.ARCHIVE_PAGE == 50_000


def test_full_recent_page_is_1000(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    _bulk(harness, device, 1005, START_S - 600)
    headers = harness.awt(created)
    first = harness.client.get("/awt/v2/data", headers=headers).json()
    rest = harness.client.get("/awt/v2/data", params={"offset": 1000}, headers=headers).json()
    assert (len(first), len(rest)) == (1000, 5)
    assert not {r["recordId"] for r in first} & {r["recordId"] for r in rest}


def test_new_readings_do_not_shift_earlier_pages_of_data(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/data is ordered by insertion: what arrives while a client pages lands after the pages it has read."""
    monkeypatch.setattr(awt_calls, "RECENT_PAGE", 5)
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    _bulk(harness, device, 10, START_S - 600)
    headers = harness.awt(created)
    first = harness.client.get("/awt/v2/data", headers=headers).json()
    harness.clock.advance(1)
    _bulk(harness, device, 3, START_S - 7200)  # older fixes, inserted later
    second = harness.client.get("/awt/v2/data", params={"offset": 5}, headers=headers).json()
    third = harness.client.get("/awt/v2/data", params={"offset": 10}, headers=headers).json()
    ids = [r["recordId"] for r in first + second + third]
    assert len(ids) == len(set(ids)) == 13


def test_offset_past_the_end_is_an_empty_page(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    _bulk(harness, device, 3, START_S - 600)
    response = harness.client.get("/awt/v2/data", params={"offset": 3}, headers=harness.awt(created))
    assert response.status_code == 200
    assert response.json() == []


def test_archive_is_ordered_by_timestamp_then_record(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    for speed, fix_time in enumerate((START_S - 50, START_S - 90, START_S - 70, START_S - 90)):
        harness.fix(device, fix_time, speed=speed)
    readings = harness.client.get("/awt/v2/data/archive", headers=harness.awt(created)).json()
    assert [r["timestamp"] for r in readings] == [START_S - 90, START_S - 90, START_S - 70, START_S - 50]


def test_start_after_end_is_an_empty_page(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    harness.fix(device, START_S - 50)
    params = {"start": START_S, "end": START_S - 100}
    for path in ("/awt/v2/data", "/awt/v2/data/archive"):
        response = harness.client.get(path, params=params, headers=harness.awt(created))
        assert response.status_code == 200
        assert response.json() == []
