"""GET /messages: a bare array of every uplink of the project, JSON or CSV, with lenient dates."""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

import pytest

from fieldstation.codecs import astrocast_geo, awt_frame
from fieldstation.core.models import NewUplink
from fieldstation.core.projects import CreatedProject
from tests.conftest import START_S, Harness, token_headers
from tests.dialects.astrocast.conftest import astronode, key, send

FIELDS = [
    "messageGuid", "deviceGuid", "deviceGroupGuid", "createdDate", "receivedDate", "latitude", "longitude",
    "data", "messageSize", "callbackDeliveryStatus",
]  # fmt: skip


def test_message_objects_are_the_specs(harness: Harness, project: CreatedProject) -> None:
    device = astronode(harness, project)
    payload = astrocast_geo.encode(46.5197, 6.6323, b"Ground Control to Major Tom! 21.00")
    stored = send(harness, device, payload, created_s=START_S - 30)
    response = harness.client.get("/astrocast/v1/messages", headers=key(project))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    [message] = response.json()
    assert list(message) == FIELDS
    assert message == {
        "messageGuid": stored.uid,
        "deviceGuid": "c984ff2b-e4d0-417f-8ea3-11d74a55d251",
        "deviceGroupGuid": None,
        "createdDate": "2026-09-21T14:12:50Z",
        "receivedDate": "2026-09-21T14:13:20Z",
        "latitude": 46.5197,
        "longitude": 6.6323,
        "data": base64.b64encode(payload).decode(),
        "messageSize": len(payload),
        "callbackDeliveryStatus": 0,
    }
    assert base64.b64decode(message["data"]).hex() == payload.hex()


def test_trailing_slash_and_empty_answer(harness: Harness, project: CreatedProject) -> None:
    for path in ("/astrocast/v1/messages", "/astrocast/v1/messages/"):
        response = harness.client.get(path, headers=key(project))
        assert response.status_code == 200
        assert response.json() == []


def _three_messages(harness: Harness, project: CreatedProject) -> list[str]:
    device = astronode(harness, project)
    uids = []
    for n in range(3):
        uids.append(send(harness, device, bytes([n] * 8), created_s=START_S - 3600 * n).uid)
        harness.clock.advance(3600)
    return uids


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"startReceivedDate": "2026-09-21T15:00:00"}, [1, 2]),
        ({"startReceivedDate": "2026-09-21T15:00:00Z", "endReceivedDate": "2026-09-21T15:59:59.00"}, [1]),
        ({"endReceivedDate": "2026-9-21T14:59:59"}, [0]),
        ({"startReceivedDate": "2026-09-21T17:00:00+02:00"}, [1, 2]),
        ({"startCreatedDate": "2026-09-21T13:00:00Z"}, [0, 1]),
        ({"endCreatedDate": "2026-09-21T12:30:00Z"}, [2]),
        ({"limit": "1", "offset": "1"}, [1]),
        ({"offset": "5"}, []),
    ],
)
def test_filters(
    harness: Harness, project: CreatedProject, params: dict[str, str], expected: list[int]
) -> None:
    uids = _three_messages(harness, project)
    response = harness.client.get("/astrocast/v1/messages", params=params, headers=key(project))
    assert response.status_code == 200, response.text
    assert [m["messageGuid"] for m in response.json()] == [uids[n] for n in expected]


def test_device_filter(harness: Harness, project: CreatedProject) -> None:
    one = astronode(harness, project)
    two = astronode(harness, project, "00000000-0000-0000-0000-000000000002")
    send(harness, one, b"\x01" * 8)
    mine = send(harness, two, b"\x02" * 8)
    response = harness.client.get(
        "/astrocast/v1/messages", params={"deviceGuid": two.guid.upper()}, headers=key(project)
    )
    assert [m["messageGuid"] for m in response.json()] == [mine.uid]


@pytest.mark.parametrize(
    "name", ["startReceivedDate", "endReceivedDate", "startCreatedDate", "endCreatedDate"]
)
@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2022-13-01T00:00:00",
        "2022-02-30",
        "1.5",
        "2022-01-01T00:00:00+99:99",
        "2022-01-01T00:00:00-24:00",
    ],
)
def test_unreadable_dates_are_400_naming_the_parameter(
    harness: Harness, project: CreatedProject, name: str, value: str
) -> None:
    response = harness.client.get("/astrocast/v1/messages", params={name: value}, headers=key(project))
    assert response.status_code == 400
    assert name in response.json()["message"]


def test_unknown_or_foreign_device_is_404(harness: Harness, project: CreatedProject) -> None:
    other = harness.project("other")
    astronode(harness, other)
    for guid in ("c984ff2b-e4d0-417f-8ea3-11d74a55d251", "not-a-guid"):
        response = harness.client.get(
            "/astrocast/v1/messages", params={"deviceGuid": guid}, headers=key(project)
        )
        assert response.status_code == 404
        assert guid in response.json()["message"]


def test_a_ttn_uplink_is_an_astrocast_message_and_an_awt_reading(
    harness: Harness, project: CreatedProject
) -> None:
    harness.device(project.project, 1337, "04C46100008F2C4F")
    frame = awt_frame.encode(
        tag_id=1337, fix_time=START_S - 100, latitude=-24.5, longitude=31.25, voltage=3.8
    )
    body = {"end_device_ids": {"dev_eui": "04C46100008F2C4F"},
            "uplink_message": {"f_cnt": 3, "frm_payload": base64.b64encode(frame).decode()}}  # fmt: skip
    created = harness.client.post("/awt/v2/ttn-webhook", json=body, headers=token_headers(project))
    assert created.status_code == 201
    [message] = harness.client.get("/astrocast/v1/messages", headers=key(project)).json()
    [reading] = harness.client.get("/awt/v2/data", headers=harness.awt(project)).json()
    assert message["messageGuid"] == reading["recordId"] == created.json()["recordId"]
    assert base64.b64decode(message["data"]) == frame
    assert (message["latitude"], message["longitude"]) == (reading["latitude"], reading["longitude"])
    assert message["createdDate"] == "2026-09-21T14:11:40Z"


def _csv(text: str) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(text)))


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_csv_parses_back_to_the_json(harness: Harness, project: CreatedProject) -> None:
    _three_messages(harness, project)
    device = astronode(harness, project, "00000000-0000-0000-0000-000000000009")
    send(harness, device, b'quote " and, comma\r\n'.ljust(8, b"x"))
    as_json = harness.client.get("/astrocast/v1/messages", headers=key(project)).json()
    response = harness.client.get("/astrocast/v1/messages", headers=key(project) | {"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text.startswith(",".join(FIELDS) + "\r\n")
    rows = _csv(response.text)
    assert rows == [{name: _as_text(m[name]) for name in FIELDS} for m in as_json]


def test_csv_of_nothing_is_the_header(harness: Harness, project: CreatedProject) -> None:
    response = harness.client.get("/astrocast/v1/messages", headers=key(project) | {"Accept": "text/csv"})
    assert response.text == ",".join(FIELDS) + "\r\n"


def test_other_accept_types_get_json(harness: Harness, project: CreatedProject) -> None:
    response = harness.client.get(
        "/astrocast/v1/messages", headers=key(project) | {"Accept": "application/xml"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


def test_a_time_stored_before_the_hub_refused_it_does_not_break_a_listing(harness: Harness) -> None:
    """An uplink received in year 10000 (UTC) could be stored before times were checked where they enter:
    its dates render as null, and every listing still answers."""
    created = harness.project()
    device = astronode(harness, created)
    far = NewUplink(source="ttn", payload=b"\x01" * 8, received_us=253_402_304_399_000_000)
    harness.run(lambda: harness.hub.ingestor.ingest(device, [far]))
    for path in ("/astrocast/v1/messages", "/astrocast/v1/devices", "/astrocast/v1/devices/summary"):
        for accept in ("application/json", "text/csv"):
            response = harness.client.get(path, headers=key(created) | {"Accept": accept})
            assert response.status_code == 200, (path, response.text)
    [message] = harness.client.get("/astrocast/v1/messages", headers=key(created)).json()
    assert message["receivedDate"] is None
