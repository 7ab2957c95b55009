"""One device, three views: what the AWT, Astrocast and Instathings APIs show of the same uplinks agrees."""

from __future__ import annotations

import base64
from typing import Any

from fieldstation.codecs import awt_frame
from fieldstation.core.devices import HUB_TAG_BASE
from fieldstation.core.hashing import key_digest
from fieldstation.core.models import CredentialKind, Device, NewDevice
from fieldstation.core.projects import CreatedProject
from tests.conftest import START_S, Harness, token_headers

EUI = "04C46100008F2C4F"


def _instathings_data(harness: Harness, created: CreatedProject, device: Device) -> list[dict[str, Any]]:
    issued = created.credentials[CredentialKind.INSTATHINGS]
    token = harness.client.post(
        "/instathings/authentication/v1/oauth/token",
        json={"clientId": issued.credential.username, "clientSecret": issued.api_key},
    ).json()["access_token"]
    response = harness.client.get(
        f"/instathings/device/v1/devices/{device.short_id}/data", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _ttn(harness: Harness, created: CreatedProject, payload: bytes) -> dict[str, Any]:
    body = {
        "end_device_ids": {"dev_eui": EUI},
        "uplink_message": {"frm_payload": base64.b64encode(payload).decode()},
    }
    response = harness.client.post("/awt/v2/ttn-webhook", json=body, headers=token_headers(created))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_collars_fix_is_in_its_instathings_data(harness: Harness) -> None:
    created = harness.project()
    collar = harness.device(created.project, 1337, EUI)
    frame = awt_frame.encode(
        tag_id=1337, fix_time=START_S - 60, latitude=-24.5, longitude=31.25, voltage=3.71
    )
    stored = _ttn(harness, created, frame)
    [record] = _instathings_data(harness, created, collar)
    [awt] = harness.client.get("/awt/v2/data", headers=harness.awt(created)).json()
    assert record["id"] == awt["recordId"] == stored["recordId"]
    assert (record["data"]["latitude"], record["data"]["longitude"]) == (awt["latitude"], awt["longitude"])
    assert record["data"]["voltage"] == awt["voltage"] == 3.71
    assert record["data"]["battery_percentage"] == awt["batteryPercentage"]
    assert record["ts"] // 1000 == awt["timestamp"] == START_S - 60


def test_an_unreadable_payload_carries_its_error_in_every_view(harness: Harness) -> None:
    created = harness.project()
    collar = harness.device(created.project, 1337, EUI)
    _ttn(harness, created, b"\x01\x02\x03")
    [record] = _instathings_data(harness, created, collar)
    [awt] = harness.client.get("/awt/v2/data", headers=harness.awt(created)).json()
    assert record["data"]["error"] == awt["error"]
    assert awt["error"]


def test_an_astronode_shows_its_bytes_and_position_and_has_a_tag(harness: Harness) -> None:
    created = harness.project()
    modem = harness.run(
        lambda: harness.hub.devices.add(
            created.project,
            NewDevice(name="modem", guid="c984ff2b-e4d0-417f-8ea3-11d74a55d251", codec="passthrough"),
        )
    )
    assert modem.tag_id == HUB_TAG_BASE
    harness.run(
        lambda: harness.hub.projects.configure(
            created.project, astrocast_callback_secret_sha256=key_digest("s")
        )
    )
    callback = {
        "messageGuid": "5b9a9d49-0e40-4b3c-8f1e-6f6d2f0a1c11",
        "deviceGuid": modem.guid,
        "receivedDate": "2026-09-21T10:00:00Z",
        "data": base64.b64encode(b"\x00\xffhello").decode(),
        "latitude": 46.2,
        "longitude": 6.1,
    }
    response = harness.client.post(
        f"/astrocast/v1/callbacks/{created.project.name}/messages",
        json=callback,
        headers={"X-Callback-Secret": "s"},
    )
    assert response.status_code == 200, response.text
    [record] = _instathings_data(harness, created, modem)
    assert record["data"] == {"payload": callback["data"], "latitude": 46.2, "longitude": 6.1}
    # Every reading the AWT view shows has a tagId, and /devices lists that tag.
    [awt] = harness.client.get("/awt/v2/data", headers=harness.awt(created)).json()
    assert awt["tagId"] == HUB_TAG_BASE
    assert awt["recordId"] == callback["messageGuid"]
    tags = [d["tag_id"] for d in harness.client.get("/awt/v2/devices", headers=harness.awt(created)).json()]
    assert tags == [str(HUB_TAG_BASE)]


def test_software_version_follows_the_frames(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 1337, EUI, software_version=70)
    frame = awt_frame.encode(
        tag_id=1337, fix_time=START_S - 60, latitude=-24.5, longitude=31.25, voltage=3.7, software_version=72
    )
    _ttn(harness, created, frame)
    [device] = harness.client.get("/awt/v2/devices", headers=harness.awt(created)).json()
    assert device["software_version"] == 72


def test_a_frame_of_another_tag_is_stored_with_a_warning(harness: Harness) -> None:
    created = harness.project()
    collar = harness.device(created.project, 1337, EUI)
    frame = awt_frame.encode(tag_id=4242, fix_time=START_S - 60, latitude=-24.5, longitude=31.25, voltage=3.7)
    _ttn(harness, created, frame)
    [awt] = harness.client.get("/awt/v2/data", headers=harness.awt(created)).json()
    assert awt["tagId"] == 1337
    assert "the frame says tag 4242; the device is registered as tag 1337" in awt["warning"]
    [reading] = harness.run(lambda: harness.hub.devices.recent_readings(collar))
    assert reading.warnings == ("the frame says tag 4242; the device is registered as tag 1337",)
    clean = awt_frame.encode(tag_id=1337, fix_time=START_S - 30, latitude=-24.5, longitude=31.25, voltage=3.7)
    _ttn(harness, created, clean)
    readings = harness.client.get("/awt/v2/data", headers=harness.awt(created)).json()
    assert "warning" not in readings[-1]
