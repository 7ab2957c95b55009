"""Store-and-forward with nothing lost: a source publishes numbered records (50 a second, through a
zigbee2mqtt-style bridge broker) while the link suffers what a remote site's link suffers. After each fault
every record arrives at the hub exactly once, in order.

The outages last FIELDSTATION_FAULT_S seconds (30 by default, as the issue measures other gateways)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from fieldstation.gateway.config import read_env
from tests.gateway.conftest import BRIDGE_TYPE, Site
from tests.gateway.proxy import SilentLink
from tests.services import Mosquitto, free_port

OUTAGE_S = float(os.environ.get("FIELDSTATION_FAULT_S", "30"))
RATE = 50


class Counter:
    """Publishes {"n": 1}, {"n": 2}, ... at RATE a second, QoS 1, to the bridge's broker."""

    def __init__(self, port: int) -> None:
        self.sent = 0
        self._stop = threading.Event()
        self._client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,  # type: ignore[attr-defined]
            client_id="counter",
            clean_session=False,
        )
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._client.publish(
            "zigbee2mqtt/bridge/devices", '[{"friendly_name": "counter"}]', qos=1, retain=True
        ).wait_for_publish(5)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sent += 1
            self._client.publish("zigbee2mqtt/counter", f'{{"n": {self.sent}}}', qos=1).wait_for_publish(5)
            next_at += 1 / RATE
            time.sleep(max(0.0, next_at - time.monotonic()))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(10)
        self._client.loop_stop()
        return self.sent


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, SilentLink, Mosquitto, Path]]:
    root = tmp_path_factory.mktemp("faults")
    # The check pages through thousands of records a second: the Instathings client limit is lifted.
    site = Site(root, hub_env={"FIELDSTATION_RATE_LIMITS": '{"instathings.client": 0}'})
    link = SilentLink(site.broker_port)
    bridge_port = free_port()
    (root / "bridge.conf").write_text(
        f"listener {bridge_port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n"
    )
    bridge = Mosquitto(root / "bridge.conf", bridge_port)
    bridge.start()
    # The agent reaches the broker through the proxy.
    folder = root / "bundle"
    from fieldstation.gateway.config import unpack_bundle

    env_file = unpack_bundle(site.bundle, folder)
    values = read_env(env_file) | {"BROKER_PORT": str(link.port)}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    try:
        yield site, link, bridge, env_file
    finally:
        bridge.stop()
        site.close()


def _total(site: Site, device: str) -> int:
    return int(site.call("GET", f"/device/v1/devices/{device}/data", params={"perPage": 1})["totalItems"])


def _records(site: Site, device: str) -> list[int]:
    numbers: list[int] = []
    page = 1
    while True:
        body = site.call("GET", f"/device/v1/devices/{device}/data", params={"page": page, "perPage": 100})
        numbers += [record["data"]["n"] for record in body["data"]]
        if page * 100 >= body["totalItems"]:
            return numbers[::-1]  # newest first
        page += 1


def test_every_record_arrives_once_in_order_through_every_fault(
    faulty: tuple[Site, SilentLink, Mosquitto, Path],
) -> None:
    site, link, bridge, env_file = faulty
    site.start_agent(config=env_file)
    site.events.wait(lambda e: e["action"] == "connected", what="connected")
    counter = Counter(bridge.port)  # the bridge lists the device: it pairs at once
    device = site.add_device(
        "counter", BRIDGE_TYPE, {"friendlyName": "counter", "broker": f"mqtt://127.0.0.1:{bridge.port}"}
    )
    site.events.wait(lambda e: e["action"] == "paired" and e["payload"]["id"] == device["id"], what="paired")
    counter.start()
    try:
        time.sleep(2)
        # 1. The broker killed for the outage.
        assert site.broker is not None
        site.broker.stop()
        time.sleep(OUTAGE_S)
        site.broker.start()
        time.sleep(3)
        # 2. The link silently dropped (no FIN, no RST) for the outage, then reset.
        link.drop()
        time.sleep(OUTAGE_S)
        link.restore()
        time.sleep(3)
        # 3. The agent SIGKILLed with no backlog, and restarted.
        site.stop_agent(signal.SIGKILL)
        time.sleep(1)
        site.start_agent(config=env_file)
        time.sleep(3)
        # 4. The agent SIGKILLed with a backlog (the link is down), restarted, the link back.
        link.drop()
        time.sleep(3)
        site.stop_agent(signal.SIGKILL)
        link.restore()
        site.start_agent(config=env_file)
        time.sleep(3)
        # 5. The hub restarted.
        site.restart_hub()
        time.sleep(3)
    finally:
        sent = counter.stop()
    # Pages are newest first: they are read once the total has stopped growing, or they would shift.
    deadline, total = time.monotonic() + 60, -1
    while time.monotonic() < deadline:
        time.sleep(1)
        now = _total(site, device["id"])
        if now >= sent and now == total:
            break
        total = now
    numbers = _records(site, device["id"])
    missing = sorted(set(range(1, sent + 1)) - set(numbers))
    doubled = len(numbers) - len(set(numbers))
    assert not missing and not doubled, (
        f"{sent} sent: {len(missing)} missing {missing[:20]}, {doubled} doubled"
    )
    assert numbers == sorted(numbers), "records arrived out of order"
