"""A gateway's traffic through Mosquitto, shared by two workers (an MQTT shared subscription, a client id
each): the gateway connects, pairs, and every record it keeps locally reaches the hub once."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.gateway.conftest import VIRTUAL_TYPE, Site
from tests.services import free_port, postgres_server, redis_server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, int]]:
    with postgres_server() as database, redis_server() as redis:
        built = Site(
            tmp_path_factory.mktemp("workers-gateway"),
            hub_env={"FIELDSTATION_DATABASE_URL": database, "FIELDSTATION_REDIS_URL": redis},
            hub_args=("--workers", "2"),
        )
        port = free_port()
        try:
            built.start_agent(None, "--on-premise-port", str(port))
            yield built, port
        finally:
            built.close()


def test_a_gateways_records_reach_the_hub_once_through_two_workers(site: tuple[Site, int]) -> None:
    """What the gateway kept by a moment has reached the hub a little later, each record once (no value is
    announced more often than the gateway made it)."""
    hub, _ = site
    hub.events.wait(lambda e: e["action"] == "connected", what="connected")
    device = hub.pair("probe", VIRTUAL_TYPE, {"frequency": 0.2})
    time.sleep(4)
    kept_then = _kept(hub, device["id"])
    time.sleep(3)
    announced = Counter(
        e["payload"]["data"]["value"]
        for e in list(hub.events.seen)
        if e["action"] == "data" and e["payload"]["deviceId"] == device["id"]
    )
    kept_now = _kept(hub, device["id"])
    assert sum(kept_then.values()) >= 10
    assert kept_then <= announced <= kept_now, (kept_then, announced, kept_now)


def _kept(hub: Site, device: str) -> Counter[int]:
    db = sqlite3.connect(hub.root / "agent" / "agent.db")
    try:
        rows = db.execute("SELECT payload FROM local_records WHERE device = ?", (device,)).fetchall()
    finally:
        db.close()
    return Counter(json.loads(payload)["value"] for (payload,) in rows)
