"""Both enabled: the agent keeps and serves its devices' records locally and forwards them to the hub, and
the hub has each of them once, in the same order."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.conftest import VIRTUAL_TYPE, Site
from tests.services import free_port


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, int]]:
    site = Site(tmp_path_factory.mktemp("both"))
    port = free_port()
    try:
        site.start_agent(None, "--on-premise-port", str(port))
        yield site, port
    finally:
        site.close()


def test_the_same_records_are_served_locally_and_reach_the_hub_once(both: tuple[Site, int]) -> None:
    site, port = both
    site.events.wait(lambda e: e["action"] == "connected", what="connected")
    device = site.pair("probe", VIRTUAL_TYPE, {"frequency": 0.5})
    time.sleep(3)
    site.call(
        "DELETE", f"/devices/{site.gateway['id']}/subDevice/subDevices/{device['id']}"
    )  # production stops
    time.sleep(1)
    local = httpx.get(
        f"http://127.0.0.1:{port}/device/v1/devices/{device['id']}/data", params={"perPage": 100}
    )
    assert local.status_code == 404  # unpaired: the gateway no longer serves it
    # The hub deleted the device with its readings; what it committed is what its WebSocket announced, an
    # event per reading committed (a record sent again is stored once, and not announced again).
    local_values = _local_values(site, device["id"])
    deadline = time.monotonic() + 10  # the last record's event may still be on its way on a loaded machine
    while True:
        hub_values = [e["payload"]["data"]["value"] for e in site.events.seen
                      if e["action"] == "data" and e["payload"]["deviceId"] == device["id"]]  # fmt: skip
        if hub_values == local_values or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(hub_values) >= 5 and hub_values == local_values


def _local_values(site: Site, device: str) -> list[int]:
    db = sqlite3.connect(site.root / "agent" / "agent.db")
    try:
        rows = db.execute(
            "SELECT payload FROM local_records WHERE device = ? ORDER BY ts, id", (device,)
        ).fetchall()
    finally:
        db.close()
    return [json.loads(payload)["value"] for (payload,) in rows]
