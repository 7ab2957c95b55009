"""The WebSocket event stream: refused without a valid token for the project; data from every source and
status answers arrive live."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from fieldstation.codecs import awt_frame
from fieldstation.core.models import CredentialKind, Event, LogLine
from tests.conftest import START_S, Harness, token_headers
from tests.dialects.instathings.conftest import Client


def url(client: Client, project: str | None = None, token: str | None = None) -> str:
    return f"/instathings/ws?project={project or client.project_id}&access_token={token or client.token}"


@pytest.mark.parametrize("case", ["bad token", "other project", "no token"])
def test_refused_without_a_valid_token_for_the_project(harness: Harness, it: Client, case: str) -> None:
    other = Client(harness, harness.project("other"))
    target = {
        "bad token": url(it, token="e30.e30.e30"),
        "other project": url(it, project=other.project_id),
        "no token": f"/instathings/ws?project={it.project_id}",
    }[case]
    with pytest.raises(WebSocketDisconnect) as refused, harness.client.websocket_connect(target):
        pass
    assert refused.value.code == 1008


def test_virtual_data_and_status_arrive(it: Client) -> None:
    device = it.device(isVirtual=True, demoActive=True, frequency=30)
    with it.harness.client.websocket_connect(url(it)) as ws:
        it.harness.run(it.harness.hub.virtual.tick)
        data = ws.receive_json()
        assert data["action"] == "data"
        assert list(data["payload"]) == ["id", "clientId", "principal", "ts", "ttl", "deviceId", "data"]
        assert data["payload"]["deviceId"] == device["id"]
        assert data["payload"]["data"]["isVirtualData"] is True
        it.call("POST", f"/device/v1/control/{device['id']}/status")
        status = ws.receive_json()
        assert status["action"] == "status"
        assert list(status["payload"]) == ["projectId", "response", "ttl", "deviceId", "id"]
        assert status["payload"]["projectId"] == it.project_id
        assert status["payload"]["deviceId"] == device["id"]


def test_a_ttn_uplink_reaches_the_socket(it: Client) -> None:
    harness = it.harness
    tag = harness.device(it.created.project, 1337, "04C46100008F2C4F")
    frame = awt_frame.encode(tag_id=1337, fix_time=START_S - 5, latitude=-24.0, longitude=31.5, voltage=3.8)
    body = {
        "end_device_ids": {"dev_eui": "04C46100008F2C4F"},
        "uplink_message": {"frm_payload": base64.b64encode(frame).decode()},
    }
    with harness.client.websocket_connect(url(it)) as ws:
        response = harness.client.post("/awt/v2/ttn-webhook", json=body, headers=token_headers(it.created))
        assert response.status_code == 201
        event = ws.receive_json()
        assert event["action"] == "data"
        assert event["payload"]["id"] == response.json()["recordId"]
        assert event["payload"]["deviceId"] == tag.short_id
        assert event["payload"]["ts"] == (START_S - 5) * 1000
        # A duplicate is not news.
        harness.client.post("/awt/v2/ttn-webhook", json=body, headers=token_headers(it.created))
        harness.run(lambda: _publish_marker(harness, it))
        assert ws.receive_json()["action"] == "marker"


async def _publish_marker(harness: Harness, it: Client) -> None:
    harness.hub.events.publish(Event(it.created.project.id, "marker", {}))


def test_other_projects_events_do_not_arrive(harness: Harness, it: Client) -> None:
    other = Client(harness, harness.project("other"))
    other.device(isVirtual=True, demoActive=True)
    with harness.client.websocket_connect(url(it)) as ws:
        harness.run(harness.hub.virtual.tick)
        harness.run(lambda: _publish_marker(harness, it))
        assert ws.receive_json()["action"] == "marker"


def test_logs_are_sent_in_batches(it: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from fieldstation.dialects.instathings import ws as stream

    monkeypatch.setattr(stream, "LOG_BATCH_S", 0.5)
    gateway = it.device(isGateway=True)
    device = it.harness.run(lambda: it.harness.hub.devices.by_short_id(it.created.project, gateway["id"]))
    assert device is not None
    now = it.harness.clock.now_us()
    lines = [
        LogLine(device.id, "gate", "LOG", f"2020-05-07T15:01:20.56{n}Z gate:log Connecting...", n * 1000, now)
        for n in range(3)
    ]

    async def record() -> None:
        # As the gateway link will: one call per line, each announced as it is kept.
        for line in lines:
            await it.harness.hub.operations.record_logs(device, [line])

    batches: list[dict[str, Any]] = []
    with it.harness.client.websocket_connect(url(it)) as ws:
        it.harness.run(record)
        # The flush is periodic: the three calls almost always fall within one period, and at worst
        # straddle one flush. Either way the lines come in order, batched, never one message a line.
        while sum(len(b["payload"]["logs"]) for b in batches) < len(lines):
            batches.append(ws.receive_json())
    assert len(batches) < len(lines)
    for batch in batches:
        assert batch["action"] == "log"
        assert (batch["payload"]["deviceId"], batch["payload"]["containerName"]) == (gateway["id"], "gate")
    assert [entry for batch in batches for entry in batch["payload"]["logs"]] == [
        {"message": line.message, "type": "LOG", "timestamp": line.logged_us // 1000} for line in lines
    ]
    kept = it.call("GET", f"/device/v1/devices/{gateway['id']}/gate/logs").json()
    assert [entry["message"] for entry in kept] == [line.message for line in lines]


def test_revoking_the_credential_closes_its_sessions(it: Client) -> None:
    credential_id = it.created.credentials[CredentialKind.INSTATHINGS].credential.id
    with it.harness.client.websocket_connect(url(it)) as ws:
        assert it.harness.run(lambda: it.harness.hub.projects.revoke_credential(credential_id))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008
    assert it.call("GET", "/device/v1/devices").status_code == 401


def test_binary_frames_from_the_client_are_ignored(it: Client) -> None:
    with it.harness.client.websocket_connect(url(it)) as ws:
        ws.send_bytes(b"\x00\xff")
        ws.send_text("hello")
        it.harness.run(lambda: _publish_marker(it.harness, it))
        assert ws.receive_json()["action"] == "marker"


def test_an_event_is_rendered_once_for_all_its_subscribers(
    it: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fieldstation.dialects.instathings import ws as stream

    renderings: list[str] = []
    real = stream._payload

    def counted(event: Event, project: Any) -> Any:
        renderings.append(event.action)
        return real(event, project)

    monkeypatch.setattr(stream, "_payload", counted)
    with (
        it.harness.client.websocket_connect(url(it)) as first,
        it.harness.client.websocket_connect(url(it)) as second,
        it.harness.client.websocket_connect(url(it)) as third,
    ):
        it.harness.run(lambda: _publish_marker(it.harness, it))
        messages = [ws.receive_json() for ws in (first, second, third)]
    assert messages == [{"action": "marker", "payload": {}}] * 3
    assert renderings == ["marker"]


def test_a_log_batch_is_bounded(it: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from fieldstation.dialects.instathings import ws as stream

    monkeypatch.setattr(stream, "LOG_BATCH_S", 0.05)
    monkeypatch.setattr(stream, "MAX_LOG_LINES", 3)
    gateway = it.device(isGateway=True)
    device = it.harness.run(lambda: it.harness.hub.devices.by_short_id(it.created.project, gateway["id"]))
    assert device is not None
    lines = [LogLine(device.id, "gate", "LOG", f"line {n}", n * 1000, 0) for n in range(10)]
    with it.harness.client.websocket_connect(url(it)) as ws:
        it.harness.run(lambda: it.harness.hub.operations.record_logs(device, lines))
        batch = ws.receive_json()
    assert [entry["message"] for entry in batch["payload"]["logs"]] == ["line 0", "line 1", "line 2"]
