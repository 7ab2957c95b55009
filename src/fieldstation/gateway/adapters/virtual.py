"""A simulated sensor: a first reading as soon as it is paired, then one every `frequency` seconds
(its parameters, default 60)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

from fieldstation.gateway.adapters.base import Adapter, AdapterError
from fieldstation.gateway.outbox import OutboxFull, PairedDevice
from fieldstation.link.protocols import VIRTUAL

_values = random.Random()
"""Virtual readings' values: a generator of their own, not the interpreter's shared one."""

DEFAULT_FREQUENCY_S = 60.0


class VirtualAdapter(Adapter):
    protocol = VIRTUAL
    slug = "virtual"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @staticmethod
    async def check(parameters: Mapping[str, Any]) -> str:
        return "virtual sensors need nothing installed\n"

    async def pair(self, device: PairedDevice) -> bool:
        frequency = device.parameters.get("frequency", DEFAULT_FREQUENCY_S)
        if isinstance(frequency, bool) or not isinstance(frequency, int | float) or not frequency > 0:
            raise AdapterError("frequency must be a positive number of seconds")
        label = device.device_type.get("fakeSampleLabel") or "value"
        await self.unpair(device.id)
        self._tasks[device.id] = asyncio.create_task(self._produce(device.id, str(label), float(frequency)))
        return True

    async def unpair(self, device_id: str) -> None:
        task = self._tasks.pop(device_id, None)
        if task is not None:
            task.cancel()

    async def control(self, device: PairedDevice, request: Mapping[str, Any]) -> None:
        self.log.info("virtual device %s told %s", device.id, request.get("body") or request.get("query"))

    async def status(self, device: PairedDevice, request: Mapping[str, Any]) -> Any:
        return {"value": _values.randint(0, 100), "isVirtualData": True}

    async def close(self) -> None:
        for device_id in list(self._tasks):
            await self.unpair(device_id)

    async def _produce(self, device_id: str, label: str, frequency_s: float) -> None:
        while True:
            try:
                await self._emit(device_id, {label: _values.randint(0, 100)})
            except OutboxFull as exc:
                self.log.error("virtual device %s: a reading was refused: %s", device_id, exc)
            await asyncio.sleep(frequency_s)
