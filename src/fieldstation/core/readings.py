"""What the views read: pages of readings and uplinks, a device's recent data, per-device activity and daily
usage, and each API key's read cursors. Thin on purpose: the queries are the store's; this is the one door
the views go through, so that none of them reaches the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fieldstation.core.clock import Clock
from fieldstation.core.models import (
    Credential,
    DailyUsage,
    Device,
    DeviceActivity,
    Project,
    Reading,
    StoredUplink,
)
from fieldstation.core.ports import Fix, ReadingStore, ReadingWindow, UplinkFilter


class Readings:
    def __init__(self, store: ReadingStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def awt_pages(self, window: ReadingWindow) -> AsyncIterator[list[str]]:
        """The window's readings as the AWT view rendered them, in chunks."""
        return self._store.stream_awt_json(window)

    async def commit_horizon(self, project_id: int) -> int:
        """Where a read cursor may move to: every reading at or before it is committed (ports.py)."""
        return await self._store.commit_horizon(project_id)

    async def latest_device_time(self, device: Device) -> int | None:
        return await self._store.latest_device_time(device.id)

    async def move_cursor(self, credential: Credential, name: str, position: int) -> tuple[int, int] | None:
        """Set the credential's cursor `name`; returns its previous (position, updated_us), None at first
        use."""
        return await self._store.move_cursor(credential.id, name, position, self._clock.now_us())

    async def device_page(
        self, device: Device, since_us: int | None, until_us: int | None, offset: int, limit: int
    ) -> tuple[list[tuple[Reading, dict[str, Any]]], int]:
        """A page of the device's readings, newest first, each with its uplink's metadata; and the total."""
        return await self._store.device_data(device.id, since_us, until_us, offset, limit)

    def fixes(self, device: Device, since_us: int, until_us: int) -> AsyncIterator[list[Fix]]:
        """The device's track within the period (fix times), oldest first, in chunks."""
        return self._store.stream_fixes(device.id, since_us, until_us)

    async def count_fixes(self, devices: list[Device], since_us: int, until_us: int) -> int:
        return await self._store.count_fixes([d.id for d in devices], since_us, until_us)

    def uplinks(self, where: UplinkFilter) -> AsyncIterator[list[StoredUplink]]:
        """Uplinks with what their readings made of them, in chunks."""
        return self._store.stream_uplinks(where)

    async def activity(self, project: Project) -> dict[int, DeviceActivity]:
        """Per device: its last message, command and position."""
        return await self._store.device_activity(project.id)

    async def daily_usage(
        self, project: Project, device: Device | None, since_us: int | None, until_us: int | None
    ) -> list[DailyUsage]:
        return await self._store.daily_usage(
            project.id, None if device is None else device.id, since_us, until_us
        )
