"""From an uplink to a stored reading: decode with the device's codec, render the views that are rendered
at write time, and commit. Nothing is acknowledged before the commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fieldstation import codecs
from fieldstation.core.clock import Clock
from fieldstation.core.ids import guid
from fieldstation.core.models import Decoded, Device, NewUplink
from fieldstation.core.ports import ReadingToStore, StorePort

AwtRenderer = Callable[[Device, str, Decoded], str]
"""(device, reading uid, decoded) -> the AWT Reading object as JSON text."""


class Ingestor:
    def __init__(self, store: StorePort, clock: Clock, render_awt: AwtRenderer) -> None:
        self._store = store
        self._clock = clock
        self._render_awt = render_awt

    def prepare(self, device: Device, uplink: NewUplink, inserted_us: int | None = None) -> ReadingToStore:
        decoded = codecs.decode(device.codec, uplink.payload, uplink.received_us)
        uid = guid()
        return ReadingToStore(
            device, uid, uplink, decoded, self._render_awt(device, uid, decoded), inserted_us
        )

    async def ingest(self, device: Device, uplinks: Sequence[NewUplink]) -> list[int]:
        return await self._store.store_readings(
            [self.prepare(device, up) for up in uplinks], self._clock.now_us()
        )

    async def backfill(self, device: Device, history: Sequence[tuple[NewUplink, int]]) -> list[int]:
        """Store uplinks as if each had been inserted at the time paired with it (demo history only)."""
        items = [self.prepare(device, uplink, inserted_us) for uplink, inserted_us in history]
        return await self._store.store_readings(items, self._clock.now_us())
