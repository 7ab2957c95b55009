"""Virtual devices: a device with `demoActive` produces `{"value": ..., "isVirtualData": true}` every
`frequency` seconds, from the hub itself. Each tick is claimed in the store before it is produced, so
that however many workers run, a period yields one record."""

from __future__ import annotations

import json
import logging
import random

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.errors import StoreUnavailable
from fieldstation.core.ids import ordered_guid
from fieldstation.core.ingest import Ingestor
from fieldstation.core.models import Device, NewUplink
from fieldstation.core.ports import DeviceStore

_values = random.Random()
"""Virtual readings' values: a generator of their own, not the interpreter's shared one."""

log = logging.getLogger("fieldstation.virtual")
NOT_APPLICABLE = "N/A"
"""`clientId` (and `principal`) of data the cloud generated itself."""


class VirtualDevices:
    def __init__(self, store: DeviceStore, clock: Clock, ingestor: Ingestor) -> None:
        self._store = store
        self._clock = clock
        self._ingestor = ingestor

    async def tick(self) -> int:
        """Produce every due record; returns how many. One device that fails is logged and skipped: it
        never stops the others (of any project)."""
        now = self._clock.now_us()
        produced = 0
        for device, expected in await self._store.due_virtual_devices(now):
            try:
                produced += await self._produce(device, expected, now)
            except StoreUnavailable:
                raise
            except Exception:
                log.exception(
                    "virtual device %s of project %s could not produce", device.id, device.project_id
                )
        return produced

    async def _produce(self, device: Device, expected: int | None, now: int) -> int:
        period = device.frequency_s * MICROS
        due = now if expected is None else expected
        if not await self._store.claim_virtual_tick(device.id, expected, max(due + period, now + 1)):
            return 0  # another worker produced this one
        reading = {"value": _values.randint(0, 100), "isVirtualData": True}
        payload = json.dumps(reading, separators=(",", ":")).encode()
        uplink = NewUplink(
            source="virtual",
            payload=payload,
            received_us=now,
            meta={"client_id": NOT_APPLICABLE, "principal": device.certificate_id or NOT_APPLICABLE},
            uid=ordered_guid(),  # a record per tick, even when two ticks draw the same value
        )
        await self._ingestor.ingest(device, [uplink])
        return 1
