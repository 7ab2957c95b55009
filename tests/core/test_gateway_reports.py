"""What a paired gateway reports is bounded: its certificate lets it publish anything on its own topics."""

from __future__ import annotations

import pytest

from fieldstation.core.errors import InvalidInput
from fieldstation.core.gateways import MAX_PROTOCOLS, MAX_SHORT_TEXT, RECORD_ID_MAX, parse_records
from fieldstation.core.models import Device, NewDevice
from tests.conftest import Harness


def _report(protocol: object) -> dict[str, object]:
    return {"protocolId": protocol, "protocol": "knx", "installationSuccess": True, "exitStatus": 0}


def test_a_gateway_cannot_grow_its_protocol_list_without_end(harness: Harness) -> None:
    """Each install report appended its protocol id, of any length, to the gateway's stored list: 30 reports
    of a megabyte made the gateway's record 29 MB and the hub 220 MB bigger."""
    project = harness.project().project
    hub = harness.hub

    async def installs(first: Device) -> tuple[list[bool], int]:
        refused = []
        for bad in ("p" * (MAX_SHORT_TEXT + 1), "a\nb", None, 7):
            try:
                await hub.gateways.installed(project, first, _report(bad))
                refused.append(False)
            except InvalidInput:
                refused.append(True)
        for n in range(MAX_PROTOCOLS + 1):
            gateway = await hub.devices.by_id(project, first.id)
            assert gateway is not None
            try:
                await hub.gateways.installed(project, gateway, _report(f"protocol {n}"))
            except InvalidInput:
                refused.append(n == MAX_PROTOCOLS)
        gateway = await hub.devices.by_id(project, first.id)
        assert gateway is not None
        await hub.gateways.installed(project, gateway, _report("protocol 3"))  # installed again: no growth
        return refused, len(gateway.protocols)

    gateway = harness.run(lambda: hub.devices.add(project, NewDevice(name="gate", is_gateway=True)))
    refused, kept = harness.run(lambda: installs(gateway))
    assert refused == [True] * 5 and kept == MAX_PROTOCOLS


@pytest.mark.parametrize("record_id", ["r" * (RECORD_ID_MAX + 1), "two words", "nul\x00", "", "é"])
def test_a_record_id_the_store_cannot_hold_is_refused(record_id: str) -> None:
    """A record's id is its reading's uid, 36 characters on PostgreSQL: a longer id, or one with a NUL,
    failed the write there at every sending."""
    with pytest.raises(InvalidInput, match="a record's id"):
        parse_records([{"id": record_id, "deviceId": "probe01", "ts": 1}])
    assert parse_records([{"id": "0190a3c4-1234-7abc-8def-0123456789ab", "deviceId": "probe01", "ts": 1}])
