"""The gateway agent and the hub over a real Mosquitto with TLS and client certificates: the session's
events, pairing, data, control, status and logs, as the seed shows them."""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from collections.abc import Iterator

import aiomqtt
import httpx
import pytest

from fieldstation.link.topics import Address
from tests.gateway.conftest import BRIDGE_TYPE, SHELLY_TYPE, VIRTUAL_TYPE, Site, about, exchange_as_gateway
from tests.gateway.shelly import ShellyPlug
from tests.gateway.zigbee2mqtt import Bridge
from tests.services import Mosquitto, free_port


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
    device = site.add_device("probe", VIRTUAL_TYPE, {"frequency": 1})
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
    # The same record in the other two APIs: AWT's /data and Astrocast's messages.
    record_id = data["payload"]["id"]
    base, credentials = site.server.base, site.server.demo_credentials()
    awt = credentials["awt"]
    basic = base64.b64encode(f"{awt['username']}:{awt['password']}".encode()).decode()
    token = httpx.post(
        f"{base}/awt/v2/token", headers={"X-API-KEY": awt["api_key"], "Authorization": f"Basic {basic}"}
    ).json()["token"]
    readings = httpx.get(
        f"{base}/awt/v2/data", headers={"X-API-KEY": awt["api_key"], "Authorization": f"Bearer {token}"}
    ).json()
    assert record_id in {reading["recordId"] for reading in readings}
    messages = httpx.get(
        f"{base}/astrocast/v1/messages", headers={"X-Api-Key": credentials["astrocast"]["api_key"]}
    ).json()
    assert record_id in {message["messageGuid"] for message in messages}


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
    device = site.pair("plug", SHELLY_TYPE, {"host": plug.host})
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
    device = site.pair("brief", VIRTUAL_TYPE, {"frequency": 60})
    site.call("DELETE", f"/devices/{site.gateway['id']}/subDevice/subDevices/{device['id']}")
    site.events.wait(
        lambda e: e["action"] == "not_paired" and e["payload"]["id"] == device["id"], what="not_paired"
    )


def test_a_gateway_certificate_reaches_its_own_topics_only(site: Site) -> None:
    exchange_as_gateway(site)


def test_a_protocol_whose_broker_cannot_be_reached_fails_to_install_saying_why(site: Site) -> None:
    device = site.add_device(
        "nowhere", BRIDGE_TYPE, {"friendlyName": "ghost", "broker": f"mqtt://127.0.0.1:{free_port()}"}
    )
    failed = site.events.wait(lambda e: e["action"] == "installation_failed", what="installation_failed")
    event = failed["payload"]["event"]
    assert event["exitStatus"] == 1 and event["installationSuccess"] is False
    assert "cannot be reached" in event["stderr"] and event["protocolId"] == "R2Jh6IhT"
    assert event["deviceId"] == site.gateway["id"] and event["projectId"] == site.project
    site.events.wait(about("not_paired", device["id"]), what="not_paired")


@pytest.fixture(scope="module")
def zigbee(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bridge, int]]:
    root = tmp_path_factory.mktemp("zigbee")
    port = free_port()
    (root / "bridge.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    broker = Mosquitto(root / "bridge.conf", port)
    broker.start()
    bridge = Bridge(port)
    yield bridge, port
    bridge.close()
    broker.stop()


def test_a_bridged_zigbee_lamp_pairs_through_permit_join_and_obeys(
    site: Site, zigbee: tuple[Bridge, int]
) -> None:
    bridge, port = zigbee
    lamp = site.add_device(
        "lamp", BRIDGE_TYPE, {"friendlyName": "lamp", "broker": f"mqtt://127.0.0.1:{port}"}
    )
    installed = site.events.wait(
        lambda e: e["action"] == "installation_succeded", what="installation_succeded"
    )
    assert installed["payload"]["event"]["exitStatus"] == 0
    site.events.wait(about("paired", lamp["id"]), what="paired")
    assert bridge.joined.is_set()
    site.events.wait(lambda e: e["action"] == "data" and e["payload"]["deviceId"] == lamp["id"], what="data")
    response = site.http.post(f"/device/v1/control/{lamp['id']}/set", json={"state": "ON"})
    assert response.status_code == 200
    deadline = time.monotonic() + 10
    while not bridge.commands and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bridge.commands == [{"state": "ON"}]
    asked = site.http.post(f"/device/v1/control/{lamp['id']}/status", json={"state": ""})
    fetch = asked.headers["Location"].removeprefix("/instathings")
    deadline = time.monotonic() + 15
    while (polled := site.http.get(fetch)).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert polled.json()["response"]["message"]["data"]["state"] == "ON"


def test_hostile_messages_on_a_gateways_own_topics_change_nothing_and_stop_nothing(site: Site) -> None:
    """A gateway's certificate in the wrong hands: whatever it publishes on its own topics is checked where
    it enters; the bad is logged and dropped, the link goes on."""
    own = Address("live", site.project, site.gateway["id"])
    folder = site.bundle.with_suffix("")
    hostile = [
        (own.topic("status"), b"not json"),
        (own.topic("status"), b"[1, 2]"),
        (own.topic("status"), b'{"eventType": "exploded"}'),
        (own.topic("status"), b'{"eventType": "connected", "ipAddress": "' + b"x" * 10_000 + b'"}'),
        (own.topic("discover", "version"), b'{"versions": {"gate": 7}}'),
        (own.topic("discover", "version"), b'{"versions": {"a\\nb": "1"}}'),
        (own.topic("discover", "outbox"), b'{"pending": -1, "maximum": 5, "full": false}'),
        (own.topic("discover", "g" * 500, "logs"), b'{"logs": [{"log": "x", "timestamp": 1}]}'),
        (own.topic("discover", "gate", "logs"), b'{"logs": [{"log": 5, "timestamp": "now"}]}'),
        (own.topic("discover", "device"), b'{"status": {"eventType": "paired"}, "deviceId": "not-mine"}'),
        (own.topic("control", "nope", "fetch"), b'{"requestId": "nothing", "payload": 1}'),
        (own.topic("outbox"), b'{"batch": true, "records": []}'),
        (own.topic("outbox"), b'{"batch": 1, "first": 1, "records": [{"id": "", "deviceId": "x", "ts": 1}]}'),
        (
            own.topic("outbox"),
            b'{"batch": 1, "first": 1, "records": [{"id": "a", "deviceId": "x", "ts": 1e300}]}',
        ),
        (own.topic("data", "x"), b'{"v": 1}'),
    ]
    before = site.call("GET", f"/device/v1/devices/{site.gateway['id']}")

    async def publish() -> None:
        context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
        context.load_cert_chain(str(folder / "certificate.pem"), str(folder / "private.key"))
        async with aiomqtt.Client(
            "127.0.0.1", site.broker_port, identifier="hostile", tls_context=context
        ) as client:
            for topic, payload in hostile:
                await client.publish(topic, payload, qos=1)
            await client.publish(
                own.topic("discover", "version"), b'{"versions": {"gate": "still-alive"}}', qos=1
            )

    asyncio.run(publish())
    site.events.wait(
        lambda e: (
            e["action"] == "software_version" and e["payload"].get("version", {}).get("gate") == "still-alive"
        ),
        what="the valid message after the hostile ones",
    )
    after = site.call("GET", f"/device/v1/devices/{site.gateway['id']}")
    assert after["status"] == before["status"]
    assert after.get("outbox") == before.get("outbox")
