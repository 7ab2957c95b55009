"""The gateway agent and the hub over a real Mosquitto with TLS and client certificates: the session's
events, pairing, data, control, status and logs, as the seed shows them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.gateway.conftest import SHELLY_TYPE, VIRTUAL_TYPE, Site, about, exchange_as_gateway
from tests.gateway.shelly import ShellyPlug


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
        event = site.events.wait(about(action, device["id"]), what=action)
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


@pytest.fixture(scope="module")
def plug() -> Iterator[ShellyPlug]:
    shelly = ShellyPlug()
    yield shelly
    shelly.close()


def test_the_seeds_shelly_plug_turns_on_and_reports_its_status(site: Site, plug: ShellyPlug) -> None:
    device = site.call(
        "POST",
        "/device/v1/devices",
        json={
            "name": "plug",
            "type": SHELLY_TYPE,
            "parentDevice": site.gateway["id"],
            "parameters": {"host": plug.host},
        },
    )
    site.events.wait(about("paired", device["id"]), what="paired")
    # The seed's control call: POST /device/v1/control/:id/set?turn=on, instathings-path /relay/0, GET.
    answer = site.http.post(
        f"/device/v1/control/{device['id']}/set",
        params={"turn": "on"},
        headers={"instathings-path": "/relay/0", "instathings-method": "GET"},
    )
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 10
    while not plug.on and time.monotonic() < deadline:
        time.sleep(0.05)
    assert plug.on and ("GET", "/relay/0?turn=on") in plug.requests
    # A status request: 202 with the fetch URL, then the device's own JSON through fetch and the socket.
    asked = site.http.post(
        f"/device/v1/control/{device['id']}/status", headers={"instathings-path": "/status"}
    )
    assert asked.status_code == 202
    fetch = asked.headers["Location"].removeprefix("/instathings")
    deadline = time.monotonic() + 10
    while (polled := site.http.get(fetch)).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert polled.status_code == 200, polled.text
    body = polled.json()
    assert body["deviceId"] == device["id"] and body["projectId"] == site.project
    assert body["response"] == {"type": "data", "message": {"data": plug.status()}}
    status = site.events.wait(lambda e: e["action"] == "status" and e["payload"]["deviceId"] == device["id"])
    assert status["payload"]["response"]["message"]["data"]["relays"][0]["ison"] is True


def test_a_removed_device_is_unpaired(site: Site) -> None:
    device = site.call(
        "POST",
        "/device/v1/devices",
        json={
            "name": "brief",
            "type": VIRTUAL_TYPE,
            "parentDevice": site.gateway["id"],
            "parameters": {"frequency": 60},
        },
    )
    site.events.wait(about("paired", device["id"]), what="paired")
    site.call("DELETE", f"/devices/{site.gateway['id']}/subDevice/subDevices/{device['id']}")
    site.events.wait(
        lambda e: e["action"] == "not_paired" and e["payload"]["id"] == device["id"], what="not_paired"
    )


def test_a_gateway_certificate_reaches_its_own_topics_only(site: Site) -> None:
    exchange_as_gateway(site)
