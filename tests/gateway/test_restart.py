"""An agent restarted while its bridge's broker kept a backlog for it (the records of the minutes it was
down): its link to the hub is up at once, the devices it had paired stay paired, and the backlog reaches
the hub. The agent used to pair its devices before starting its link, and took a device whose bridge had
not yet re-sent its device list (it comes after the backlog) for a new one: it asked the bridge to permit
joining, waited two minutes for an interview that never came, and sent nothing to the hub meanwhile."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from tests.gateway.conftest import BRIDGE_TYPE, Site
from tests.services import Mosquitto, free_port

BACKLOG = 3_000


@pytest.fixture
def bridged(tmp_path: Path) -> Iterator[tuple[Site, paho.Client, int]]:
    site = Site(tmp_path / "site", hub_env={"FIELDSTATION_RATE_LIMITS": '{"instathings.client": 0}'})
    port = free_port()
    (tmp_path / "bridge.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages {BACKLOG * 2}\n"
    )
    broker = Mosquitto(tmp_path / "bridge.conf", port)
    broker.start()
    sensor = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="sensor")  # type: ignore[attr-defined]
    sensor.connect("127.0.0.1", port)
    sensor.loop_start()
    sensor.publish("zigbee2mqtt/bridge/devices", '[{"friendly_name": "sensor"}]', qos=1, retain=True)
    try:
        yield site, sensor, port
    finally:
        sensor.loop_stop()
        broker.stop()
        site.close()


def test_a_restarted_agent_links_at_once_and_its_devices_stay_paired(
    bridged: tuple[Site, paho.Client, int],
) -> None:
    site, sensor, port = bridged
    site.start_agent()
    site.events.wait(lambda e: e["action"] == "connected", what="connected")
    device = site.pair(
        "sensor", BRIDGE_TYPE, {"friendlyName": "sensor", "broker": f"mqtt://127.0.0.1:{port}"}
    )
    site.stop_agent(signal.SIGKILL)
    seen = len(site.events.seen)
    for n in range(1, BACKLOG + 1):  # kept by the bridge's broker for the agent's session
        sensor.publish("zigbee2mqtt/sensor", f'{{"n": {n}}}', qos=1).wait_for_publish(5)
    site.start_agent()
    started = time.monotonic()
    site.events.wait(
        lambda _: sum(e["action"] == "connected" for e in site.events.seen[seen:]) >= 1,
        timeout=15,
        what="reconnected",
    )
    assert time.monotonic() - started < 15
    deadline = time.monotonic() + 60
    total = 0
    while time.monotonic() < deadline:
        total = site.call("GET", f"/device/v1/devices/{device['id']}/data", params={"perPage": 1})[
            "totalItems"
        ]
        if total >= BACKLOG:
            break
        time.sleep(0.5)
    assert total == BACKLOG
    assert not [e for e in site.events.seen[seen:] if e["action"] in ("not_paired", "unpaired")]
