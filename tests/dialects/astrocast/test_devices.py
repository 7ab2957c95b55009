"""GET /devices, /devices/{deviceGuid}, /devices/summary, /enums/devicetypes."""

from __future__ import annotations

import csv
import io

from fieldstation.codecs import astrocast_geo
from fieldstation.core.projects import CreatedProject
from tests.conftest import START_S, Harness
from tests.dialects.astrocast.conftest import astronode, b64, key, send

DEVICE_FIELDS = [
    "deviceGuid", "name", "description", "deviceType", "deviceState", "disabledUntilDate", "deviceGroupGuid",
    "modelNumber", "serialNumber", "firmwareVersion", "componentModelNumber", "componentSerialNumber",
    "componentFirmwareVersion", "protocolVersion", "lastMessageDate", "lastCommandDate", "lastLocationDate",
    "fixedGeolocation", "lastLatitude", "lastLongitude", "registrationEnabled", "billingExcluded",
]  # fmt: skip


def test_device_fields_kept_current_from_uplinks(harness: Harness, project: CreatedProject) -> None:
    device = astronode(harness, project)
    send(harness, device, astrocast_geo.encode(46.5, 6.6), created_s=START_S - 10)
    harness.clock.advance(60)
    send(harness, device, b"\x01\x02")  # no position: an error reading, the last position stays
    [listed] = harness.client.get("/astrocast/v1/devices", headers=key(project)).json()
    assert list(listed) == DEVICE_FIELDS
    assert listed["deviceGuid"] == device.guid
    assert listed["deviceType"] == 1
    assert listed["lastMessageDate"] == "2026-09-21T14:14:20Z"
    assert listed["lastLocationDate"] == "2026-09-21T14:13:10Z"
    assert (listed["lastLatitude"], listed["lastLongitude"]) == (46.5, 6.6)
    assert listed["lastCommandDate"] is None
    one = harness.client.get(f"/astrocast/v1/devices/{device.guid}", headers=key(project))
    assert one.status_code == 200
    assert one.json() == listed
    types = {name: type(value) for name, value in listed.items() if value is not None}
    assert (
        types["fixedGeolocation"] is bool and types["deviceState"] is int and types["protocolVersion"] is int
    )


def test_unknown_and_foreign_devices_are_404(harness: Harness, project: CreatedProject) -> None:
    other = harness.project("other")
    foreign = astronode(harness, other)
    for guid in (foreign.guid, "00000000-0000-0000-0000-00000000dead"):
        response = harness.client.get(f"/astrocast/v1/devices/{guid}", headers=key(project))
        assert response.status_code == 404
        assert response.json() == {"message": f"Device {guid} not found."}
    assert harness.client.get("/astrocast/v1/devices", headers=key(project)).json() == []


def test_summary_counts_messages_and_commands_per_day(harness: Harness, project: CreatedProject) -> None:
    device = astronode(harness, project)
    send(harness, device, b"\x00" * 10)
    send(harness, device, b"\x00" * 20)
    command = {"deviceGuid": device.guid, "data": b64(b"\x01" * 40)}
    assert (
        harness.client.post("/astrocast/v1/commands", json=command, headers=key(project)).status_code == 200
    )
    harness.clock.advance(86_400)
    send(harness, device, b"\x00" * 5)
    summary = harness.client.get("/astrocast/v1/devices/summary", headers=key(project)).json()
    assert summary == [
        {"deviceGuid": device.guid, "customerGuid": summary[0]["customerGuid"], "deviceTypeId": 1,
         "summaryDate": "2026-09-21", "messagesCount": 2, "messagesSize": 30, "commandsCount": 1, "commandsSize": 40},
        {"deviceGuid": device.guid, "customerGuid": summary[0]["customerGuid"], "deviceTypeId": 1,
         "summaryDate": "2026-09-22", "messagesCount": 1, "messagesSize": 5, "commandsCount": 0, "commandsSize": 0},
    ]  # fmt: skip
    later = harness.client.get(
        "/astrocast/v1/devices/summary", params={"startDate": "2026-09-22"}, headers=key(project)
    ).json()
    assert [day["summaryDate"] for day in later] == ["2026-09-22"]
    as_csv = harness.client.get(
        "/astrocast/v1/devices/summary", headers=key(project) | {"Accept": "text/csv"}
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["summaryDate"], r["messagesCount"]) for r in rows] == [
        ("2026-09-21", "2"),
        ("2026-09-22", "1"),
    ]


def test_device_types(harness: Harness, project: CreatedProject) -> None:
    types = harness.client.get("/astrocast/v1/enums/devicetypes", headers=key(project)).json()
    assert all(list(t) == ["deviceTypeId", "name"] for t in types)
    assert {"deviceTypeId": 1, "name": "Astronode S"} in types
    assert all(isinstance(t["deviceTypeId"], int) for t in types)
