"""The gateway agent and the hub over a real Mosquitto with TLS and client certificates: the session's
events, pairing, data, control, status and logs, as the seed shows them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.gateway.conftest import VIRTUAL_TYPE, Site


def test_the_gateway_connects_with_its_bundle(site: Site) -> None:
    gateway = site.gateway["id"]
    connected = site.events.wait(lambda e: e["action"] == "connected", what="connected")
    payload = connected["payload"]
    assert payload["id"] == gateway and payload["isGateway"] is True and payload["env"] == "live"
    status = payload["status"]
    assert status["eventType"] == "connected" and status["clientId"] == gateway
    assert status["sessionIdentifier"] and status["ipAddress"] == "127.0.0.1"
    assert status["principalIdentifier"] == payload["certificateId"] and len(payload["certificateId"]) == 64
    versions = site.events.wait(lambda e: e["action"] == "software_version", what="software_version")
    assert versions["payload"]["version"]["gate"].startswith("fieldstation/gate:")
    record = site.call("GET", f"/device/v1/devices/{gateway}")
    assert record["status"]["eventType"] == "connected" and "gate" in record["version"]


def test_a_virtual_device_pairs_and_its_data_arrives(site: Site) -> None:
    device = site.call(
        "POST",
        "/device/v1/devices",
        json={
            "name": "probe",
            "type": VIRTUAL_TYPE,
            "parentDevice": site.gateway["id"],
            "parameters": {"frequency": 1},
        },
    )
    for action in ("discovering", "paired"):
        event = site.events.wait(_about(action, device["id"]), what=action)
        assert event["payload"]["status"] == {"eventType": action}
        assert event["payload"]["parentDevice"] == site.gateway["id"]
    data = site.events.wait(
        lambda e: e["action"] == "data" and e["payload"]["deviceId"] == device["id"], what="data"
    )
    assert data["payload"]["clientId"] == site.gateway["id"]
    assert len(data["payload"]["principal"]) == 64 and "value" in data["payload"]["data"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = site.call("GET", f"/device/v1/devices/{device['id']}/data")
        if page["totalItems"] >= 2:
            break
        time.sleep(0.2)
    assert page["totalItems"] >= 2


def test_logs_reach_the_logs_endpoint(site: Site) -> None:
    site.events.wait(lambda e: e["action"] == "connected")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        lines = site.call("GET", f"/device/v1/devices/{site.gateway['id']}/gate/logs")
        if any("connected to" in line["message"] for line in lines):
            return
        time.sleep(0.3)
    raise AssertionError(f"no agent log line reached the hub: {lines}")


def _about(action: str, device_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event["action"] == action and event["payload"].get("id") == device_id
