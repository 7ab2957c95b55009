"""Push callback intake from a real Astrocast account, and the dialect's errors and availability."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fieldstation.codecs import astrocast_geo
from fieldstation.core.hashing import key_digest
from fieldstation.core.models import CredentialKind
from fieldstation.core.projects import CreatedProject
from fieldstation.intake.astrocast import CALLBACK_REFUSED
from fieldstation.store.database import connect
from tests.conftest import Harness
from tests.dialects.astrocast.conftest import astronode, b64, key, send

SECRET = "push-secret-1"
DEVICE = "0f9b8a1c-2d3e-4f50-8172-93a4b5c6d7e8"


def _configure(harness: Harness, project: CreatedProject, **settings: Any) -> None:
    harness.run(lambda: harness.hub.projects.configure(
        project.project, astrocast_callback_secret_sha256=key_digest(SECRET), **settings))  # fmt: skip


def _uplink_body(**changes: Any) -> dict[str, Any]:
    payload = astrocast_geo.encode(-1.2921, 36.8219, b"\x2a")
    return {"messageGuid": "5d0c1f2e-3a4b-4c5d-8e6f-708192a3b4c5", "deviceGuid": DEVICE, "deviceGroupGuid": None,
            "createdDate": "2022-01-01T00:00:00Z", "receivedDate": "2022-01-02T00:00:00Z", "latitude": None,
            "longitude": None, "data": b64(payload), "messageSize": len(payload)} | changes  # fmt: skip


def _post(harness: Harness, project: CreatedProject, body: Any, secret: str = SECRET) -> Any:
    return harness.client.post(
        f"/astrocast/v1/callbacks/{project.project.name}/messages",
        json=body,
        headers={"X-Callback-Secret": secret},
    )


def test_uplink_callback_lands_as_a_message_once(harness: Harness, project: CreatedProject) -> None:
    _configure(harness, project)
    astronode(harness, project, DEVICE)
    first = _post(harness, project, _uplink_body())
    assert first.status_code == 200
    assert first.json() == {
        "messageGuid": "5d0c1f2e-3a4b-4c5d-8e6f-708192a3b4c5",
        "stored": True,
        "duplicate": False,
    }
    again = _post(harness, project, _uplink_body())
    assert again.json()["duplicate"] is True
    [message] = harness.client.get("/astrocast/v1/messages", headers=key(project)).json()
    assert message["messageGuid"] == "5d0c1f2e-3a4b-4c5d-8e6f-708192a3b4c5"
    assert message["createdDate"] == "2022-01-01T00:00:00Z"
    assert message["receivedDate"] == "2022-01-02T00:00:00Z"
    assert (message["latitude"], message["longitude"]) == (-1.2921, 36.8219)  # from the geolocation prefix
    assert message["data"] == _uplink_body()["data"]


def test_a_callback_with_the_id_of_a_reading_come_another_way_is_its_repeat(
    harness: Harness, project: CreatedProject
) -> None:
    """An outside id names one reading of its project: a callback whose messageGuid is the id the hub gave
    another reading (an uplink come through a LoRa webhook, say) is a repeat of it, never a second reading
    with the same recordId."""
    _configure(harness, project)
    first = send(harness, astronode(harness, project, DEVICE), b"\x01")
    other = astronode(harness, project, "1f9b8a1c-2d3e-4f50-8172-93a4b5c6d7e9")
    response = _post(harness, project, _uplink_body(messageGuid=first.uid, deviceGuid=other.guid))
    assert response.status_code == 200
    assert response.json() == {"messageGuid": first.uid, "stored": True, "duplicate": True}
    messages = harness.client.get("/astrocast/v1/messages", headers=key(project)).json()
    assert [message["messageGuid"] for message in messages] == [first.uid]


def test_the_vendors_documented_bodies(harness: Harness, project: CreatedProject) -> None:
    """The spec's example callbacks, word for word (an all-zero device and an empty message)."""
    _configure(
        harness,
        project,
    )
    harness.run(lambda: harness.hub.projects.configure(project.project, auto_register=True))
    body = {"messageGuid": "00000000-0000-0000-0000-000000000000", "deviceGuid": "00000000-0000-0000-0000-000000000000",
            "deviceGroupGuid": "00000000-0000-0000-0000-000000000000", "createdDate": "2022-01-01T00:00:00Z",
            "receivedDate": "2022-01-02T00:00:00Z", "latitude": None, "longitude": None, "data": "", "messageSize": 0}  # fmt: skip
    assert _post(harness, project, body).status_code == 200
    [message] = harness.client.get("/astrocast/v1/messages", headers=key(project)).json()
    assert message["messageSize"] == 0
    assert message["createdDate"] == "2022-01-01T00:00:00Z"


def test_network_position_when_the_payload_has_none(harness: Harness, project: CreatedProject) -> None:
    _configure(harness, project)
    harness.run(lambda: harness.hub.projects.configure(project.project, auto_register=True))
    assert (
        _post(
            harness, project, _uplink_body(latitude=46.2, longitude=6.1, data=b64(b"x"), messageSize=1)
        ).status_code
        == 200
    )
    [message] = harness.client.get("/astrocast/v1/messages", headers=key(project)).json()
    assert (message["latitude"], message["longitude"]) == (46.2, 6.1)


@pytest.mark.parametrize("secret", ["wrong", ""])
def test_callbacks_without_the_secret_are_refused(
    harness: Harness, project: CreatedProject, secret: str
) -> None:
    _configure(harness, project)
    astronode(harness, project, DEVICE)
    response = _post(harness, project, _uplink_body(), secret=secret)
    assert response.status_code == 401
    assert response.json() == {"message": CALLBACK_REFUSED}
    assert harness.client.get("/astrocast/v1/messages", headers=key(project)).json() == []


def test_callbacks_to_a_project_without_a_secret_are_refused(
    harness: Harness, project: CreatedProject
) -> None:
    assert _post(harness, project, _uplink_body()).status_code == 401


def test_an_unknown_project_is_refused_as_a_wrong_secret_is(
    harness: Harness, project: CreatedProject
) -> None:
    """Project names cannot be found out by trying them."""
    _configure(harness, project)
    wrong_secret = _post(harness, project, _uplink_body(), secret="wrong")
    unknown = harness.client.post(
        "/astrocast/v1/callbacks/no-such-project/messages",
        json=_uplink_body(),
        headers={"X-Callback-Secret": SECRET},
    )
    assert (unknown.status_code, unknown.json()) == (wrong_secret.status_code, wrong_secret.json())
    assert unknown.headers.keys() == wrong_secret.headers.keys()


def test_unknown_device_is_404_unless_auto_registering(harness: Harness, project: CreatedProject) -> None:
    _configure(harness, project)
    assert _post(harness, project, _uplink_body()).status_code == 404
    harness.run(lambda: harness.hub.projects.configure(project.project, auto_register=True))
    assert _post(harness, project, _uplink_body()).status_code == 200
    [device] = harness.client.get("/astrocast/v1/devices", headers=key(project)).json()
    assert device["deviceGuid"] == DEVICE


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"messageGuid": "nope"}, "messageGuid is not a GUID"),
        ({"deviceGuid": None}, "deviceGuid is missing"),
        ({"data": "!!"}, "not valid base64"),
        ({"messageSize": 99}, "messageSize says 99"),
        ({"receivedDate": "soon"}, "receivedDate is not a date"),
        ({"latitude": 123, "longitude": 5}, "latitude and longitude"),
        ({"data": b64(b"\x00" * 161), "messageSize": 161}, "at most 160"),
        ({"messageSize": "abc"}, "messageSize must be the number of bytes"),
        ({"messageSize": True}, "messageSize must be the number of bytes"),
        ({"messageSize": 7.5}, "messageSize must be the number of bytes"),
        ({"messageSize": [2]}, "messageSize must be the number of bytes"),
        ({"messageSize": 2**70}, "messageSize must be the number of bytes"),  # orjson reads it as a float
        ({"deviceGroupGuid": json.loads("[" * 300 + "]" * 300)}, "nested deeper than 240"),
    ],
)
def test_bad_callback_bodies_are_400(
    harness: Harness, project: CreatedProject, changes: dict[str, Any], message: str
) -> None:
    _configure(harness, project)
    astronode(harness, project, DEVICE)
    response = _post(harness, project, _uplink_body(**changes))
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert harness.client.get("/astrocast/v1/messages", headers=key(project)).json() == []


def test_acknowledgement_of_an_unknown_command_is_404(harness: Harness, project: CreatedProject) -> None:
    _configure(harness, project)
    body = {"commandGuid": "00000000-0000-0000-0000-000000000000", "commandStatus": 4}
    response = harness.client.post(
        f"/astrocast/v1/callbacks/{project.project.name}/commands",
        json=body,
        headers={"X-Callback-Secret": SECRET},
    )
    assert response.status_code == 404


@pytest.mark.parametrize("header", ["x-api-key", "X-Api-Key", "X-API-KEY"])
def test_key_header_in_any_case(harness: Harness, project: CreatedProject, header: str) -> None:
    value = project.credentials[CredentialKind.ASTROCAST].api_key
    assert harness.client.get("/astrocast/v1/devices", headers={header: value}).status_code == 200


def test_missing_unknown_revoked_and_wrong_kind_keys_are_401(
    harness: Harness, project: CreatedProject
) -> None:
    awt_key = project.credentials[CredentialKind.AWT].api_key
    astro = project.credentials[CredentialKind.ASTROCAST]
    for headers in ({}, {"x-api-key": "nope"}, {"x-api-key": awt_key}):
        response = harness.client.get("/astrocast/v1/messages", headers=headers)
        assert response.status_code == 401
        assert "x-api-key" in response.json()["message"]
    harness.run(lambda: harness.hub.store.revoke_credential(astro.credential.id, harness.clock.now_us()))
    harness.clock.advance(6)  # past the key cache
    assert harness.client.get("/astrocast/v1/messages", headers=key(project)).status_code == 401


def test_maintenance_is_503_with_a_15_minute_retry(harness: Harness, project: CreatedProject) -> None:
    harness.run(lambda: harness.hub.projects.configure(project.project, maintenance=True))
    response = harness.client.get("/astrocast/v1/messages", headers=key(project))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "900"
    assert response.json()["retryAfter"] == 900
    harness.run(lambda: harness.hub.projects.configure(project.project, maintenance=None))
    assert harness.client.get("/astrocast/v1/messages", headers=key(project)).status_code == 200


def test_unreachable_store_is_503(
    harness: Harness, project: CreatedProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_headers = key(project)
    harness.client.get("/astrocast/v1/devices", headers=key_headers)  # the key is cached now
    # A database that cannot be opened: the driver's error must come out as the store's StoreUnavailable.
    monkeypatch.setattr(harness.hub.store, "engine", connect("sqlite+aiosqlite:////proc/no/such.db"))
    response = harness.client.get("/astrocast/v1/devices", headers=key_headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "900"
    assert response.json()["retryAfter"] == 900


def test_unknown_path_and_method(harness: Harness, project: CreatedProject) -> None:
    missing = harness.client.get("/astrocast/v1/nothing", headers=key(project))
    assert missing.status_code == 404
    assert "message" in missing.json()
    wrong = harness.client.put("/astrocast/v1/messages", headers=key(project))
    assert wrong.status_code == 405
    assert "message" in wrong.json()
