"""Devices: one row with every identity a dialect needs."""

from __future__ import annotations

import dataclasses
import re

from fieldstation import codecs
from fieldstation.core.clock import Clock
from fieldstation.core.errors import InvalidInput
from fieldstation.core.ids import guid, short_id
from fieldstation.core.models import Device, NewDevice, Project
from fieldstation.core.ports import StorePort

EUI = re.compile(r"^[0-9A-F]{16}$")
MAX_TAG_ID = 2**63 - 1


def normalize_eui(value: str) -> str:
    """`04-c4-61-00-00-8f-2c-4f`, `04:C4:...` and `04c461...` all become `04C46100008F2C4F`."""
    eui = value.strip().replace("-", "").replace(":", "").upper()
    if not EUI.match(eui):
        raise InvalidInput(f"EUI {value!r} is not 16 hexadecimal digits (8 bytes), such as 04C46100008F2C4F")
    return eui


class Devices:
    def __init__(self, store: StorePort, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def add(self, project: Project, device: NewDevice) -> Device:
        if device.tag_id is not None and not 0 <= device.tag_id <= MAX_TAG_ID:
            raise InvalidInput(f"tag id {device.tag_id} is out of range (0 to {MAX_TAG_ID})")
        if device.codec not in codecs.names():
            raise InvalidInput(f"unknown codec {device.codec!r}; known: {', '.join(codecs.names())}")
        if device.eui is not None:
            device = dataclasses.replace(device, eui=normalize_eui(device.eui))
        return await self._store.add_device(
            project_id=project.id,
            device=device,
            guid=guid(),
            short_id=short_id(),
            created_us=self._clock.now_us(),
        )

    async def list(self, project: Project) -> list[Device]:
        return await self._store.devices(project.id)
