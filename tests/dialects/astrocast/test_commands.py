"""POST/GET/DELETE /commands and the lifecycle: pending, cancelled, acknowledged (4), expired."""

from __future__ import annotations

import pytest

from fieldstation.core.hashing import key_digest
from fieldstation.core.projects import CreatedProject
from tests.conftest import Harness
from tests.dialects.astrocast.conftest import astronode, b64, key

FIELDS = [
    "commandGuid", "commandReference", "deviceGuid", "createdDate", "expirationDate", "receivedDate",
    "ackReceivedDate", "cancelledDate", "commandData", "commandSize", "commandStatus",
]  # fmt: skip
SECRET = "s3cret-for-callbacks"


def _create(harness: Harness, project: CreatedProject, **body: object) -> dict[str, object]:
    device = astronode(harness, project, f"00000000-0000-0000-0000-{project.project.id:012d}")
    response = harness.client.post(
        "/astrocast/v1/commands", json={"deviceGuid": device.guid, "data": b64(b"\x10" * 8)} | body,
        headers=key(project),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return dict(response.json())


def _acknowledge(harness: Harness, project: CreatedProject, guid: object) -> None:
    digest = key_digest(SECRET)
    harness.run(
        lambda: harness.hub.projects.configure(project.project, astrocast_callback_secret_sha256=digest)
    )
    body = {
        "commandGuid": guid,
        "receivedDate": "2026-09-21T15:00:00Z",
        "ackReceivedDate": "2026-09-21T15:00:05Z",
    }
    response = harness.client.post(
        f"/astrocast/v1/callbacks/{project.project.name}/commands",
        json=body,
        headers={"X-Callback-Secret": SECRET},
    )
    assert response.status_code == 200, response.text


def test_create_and_get(harness: Harness, project: CreatedProject) -> None:
    created = _create(harness, project, commandReference="open valve", expirationDate="2026-09-22T00:00:00Z")
    assert list(created) == FIELDS
    assert created["commandStatus"] == 0
    assert created["commandSize"] == 8
    assert created["commandData"] == b64(b"\x10" * 8)
    assert created["commandReference"] == "open valve"
    assert created["expirationDate"] == "2026-09-22T00:00:00Z"
    assert created["createdDate"] == "2026-09-21T14:13:20Z"
    fetched = harness.client.get(f"/astrocast/v1/commands/{created['commandGuid']}", headers=key(project))
    assert fetched.json() == created
    shouted = harness.client.get(
        f"/astrocast/v1/commands/{str(created['commandGuid']).upper()}", headers=key(project)
    )
    assert shouted.json() == created  # a GUID in any case, as a device's
    listed = harness.client.get("/astrocast/v1/commands", headers=key(project)).json()
    assert listed == [created]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": b64(b"\x00" * 9)}, "8 or 40 bytes"),
        ({"data": b64(b"")}, "8 or 40 bytes"),
        ({"data": "%%%"}, "base64"),
        ({"data": None}, "data is required"),
        ({"commandReference": 5}, "commandReference"),
        ({"expirationDate": "tomorrow"}, "expirationDate"),
        ({"expirationDate": "2020-01-01T00:00:00Z"}, "in the past"),
    ],
)
def test_bad_commands_are_400(
    harness: Harness, project: CreatedProject, body: dict[str, object], message: str
) -> None:
    device = astronode(harness, project)
    payload = {"deviceGuid": device.guid, "data": b64(b"\x00" * 8)} | body
    response = harness.client.post("/astrocast/v1/commands", json=payload, headers=key(project))
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert harness.client.get("/astrocast/v1/commands", headers=key(project)).json() == []


def test_forty_bytes_and_malformed_json(harness: Harness, project: CreatedProject) -> None:
    assert _create(harness, project, data=b64(b"\x00" * 40))["commandSize"] == 40
    response = harness.client.post("/astrocast/v1/commands", content=b"{nope", headers=key(project))
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]


def test_commands_of_unknown_or_foreign_devices_are_404(harness: Harness, project: CreatedProject) -> None:
    other = harness.project("other")
    foreign = astronode(harness, other, "00000000-0000-0000-0000-0000000000ff")
    response = harness.client.post(
        "/astrocast/v1/commands",
        json={"deviceGuid": foreign.guid, "data": b64(b"\x00" * 8)},
        headers=key(project),
    )
    assert response.status_code == 404
    theirs = _create(harness, other)
    assert (
        harness.client.get(
            f"/astrocast/v1/commands/{theirs['commandGuid']}", headers=key(project)
        ).status_code
        == 404
    )
    assert (
        harness.client.delete(
            f"/astrocast/v1/commands/{theirs['commandGuid']}", headers=key(project)
        ).status_code
        == 404
    )


def test_cancel_then_cancel_again(harness: Harness, project: CreatedProject) -> None:
    created = _create(harness, project)
    harness.clock.advance(5)
    cancelled = harness.client.delete(
        f"/astrocast/v1/commands/{created['commandGuid']}", headers=key(project)
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["commandStatus"] == 3
    assert cancelled.json()["cancelledDate"] == "2026-09-21T14:13:25Z"
    again = harness.client.delete(f"/astrocast/v1/commands/{created['commandGuid']}", headers=key(project))
    assert again.status_code == 400
    assert "cancelled and can no longer be cancelled" in again.json()["message"]


def test_cancel_after_acknowledgement_is_refused(harness: Harness, project: CreatedProject) -> None:
    created = _create(harness, project)
    _acknowledge(harness, project, created["commandGuid"])
    acknowledged = harness.client.get(
        f"/astrocast/v1/commands/{created['commandGuid']}", headers=key(project)
    ).json()
    assert acknowledged["commandStatus"] == 4
    assert acknowledged["receivedDate"] == "2026-09-21T15:00:00Z"
    assert acknowledged["ackReceivedDate"] == "2026-09-21T15:00:05Z"
    refused = harness.client.delete(f"/astrocast/v1/commands/{created['commandGuid']}", headers=key(project))
    assert refused.status_code == 400
    assert "acknowledged" in refused.json()["message"]
    assert (
        harness.client.get(f"/astrocast/v1/commands/{created['commandGuid']}", headers=key(project)).json()
        == acknowledged
    )


def test_an_acknowledgement_after_a_cancel_stands(harness: Harness, project: CreatedProject) -> None:
    """The device acted on it: its acknowledgement wins over a cancel that raced it."""
    created = _create(harness, project)
    harness.client.delete(f"/astrocast/v1/commands/{created['commandGuid']}", headers=key(project))
    _acknowledge(harness, project, created["commandGuid"])
    final = harness.client.get(
        f"/astrocast/v1/commands/{created['commandGuid']}", headers=key(project)
    ).json()
    assert final["commandStatus"] == 4
    assert final["cancelledDate"] is not None


def test_commands_expire(harness: Harness, project: CreatedProject) -> None:
    created = _create(harness, project, expirationDate="2026-09-21T15:00:00Z")
    harness.clock.advance(3600)
    expired = harness.client.get(
        f"/astrocast/v1/commands/{created['commandGuid']}", headers=key(project)
    ).json()
    assert expired["commandStatus"] == 5
    refused = harness.client.delete(f"/astrocast/v1/commands/{created['commandGuid']}", headers=key(project))
    assert refused.status_code == 400


def test_list_filters(harness: Harness, project: CreatedProject) -> None:
    first = _create(harness, project)
    harness.clock.advance(3600)
    device = astronode(harness, project, "00000000-0000-0000-0000-0000000000f2")
    second = harness.client.post(
        "/astrocast/v1/commands",
        json={"deviceGuid": device.guid, "data": b64(b"\x00" * 8)},
        headers=key(project),
    ).json()
    harness.client.delete(f"/astrocast/v1/commands/{first['commandGuid']}", headers=key(project))

    def guids(**params: str) -> list[object]:
        found = harness.client.get("/astrocast/v1/commands", params=params, headers=key(project)).json()
        return [c["commandGuid"] for c in found]

    assert guids(deviceGuid=device.guid) == [second["commandGuid"]]
    assert guids(commandStatus="3") == [first["commandGuid"]]
    assert guids(startCreatedDate="2026-09-21T15:00:00") == [second["commandGuid"]]
    assert (
        harness.client.get(
            "/astrocast/v1/commands", params={"commandStatus": "9"}, headers=key(project)
        ).status_code
        == 400
    )
