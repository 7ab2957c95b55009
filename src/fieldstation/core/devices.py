"""Devices: one row with every identity a dialect needs."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import uuid
from typing import Any, Protocol

from fieldstation.core import values
from fieldstation.core.cache import BACKSTOP_TTL_S, TtlCache
from fieldstation.core.clock import Clock
from fieldstation.core.errors import AlreadyExists, InvalidInput, NotFound
from fieldstation.core.freshness import DEVICES, Freshness
from fieldstation.core.ids import guid, short_id
from fieldstation.core.models import Device, NewDevice, Project, Reading
from fieldstation.core.ports import DeviceStore, PayloadDecoder, ReadingRenderer, ReadingStore

log = logging.getLogger("fieldstation.devices")

EUI = re.compile(r"[0-9A-F]{16}")
DEFAULT_CODEC = "awt-frame"
MAX_NAME = 128
"""Names and assets: what the store's columns hold."""
MAX_TYPE = 32
HUB_TAG_BASE = 9_000_000_000
"""A device without a tag id of its own (an Astronode, an Instathings device, a LoRa device whose frame's tag
id another device holds) gets the next free one from here up: every reading then has a `tagId` in the AWT
view. A tracker's frame carries a 16-bit tag id, so the two ranges never meet (docs/awt.md)."""


class DevicesStore(DeviceStore, ReadingStore, Protocol):
    """The parts of the store this service uses."""


def normalize_eui(value: str) -> str:
    """`04-c4-61-00-00-8f-2c-4f`, `04:C4:...` and `04c461...` all become `04C46100008F2C4F`."""
    eui = value.strip().replace("-", "").replace(":", "").upper()
    if not EUI.fullmatch(eui):
        raise InvalidInput(f"EUI {value!r} is not 16 hexadecimal digits (8 bytes), such as 04C46100008F2C4F")
    return eui


def normalize_guid(value: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise InvalidInput(f"{value!r} is not a GUID such as c984ff2b-e4d0-417f-8ea3-11d74a55d251") from None


class Devices:
    def __init__(
        self,
        store: DevicesStore,
        clock: Clock,
        freshness: Freshness,
        codecs: PayloadDecoder,
        renderer: ReadingRenderer,
    ) -> None:
        self._store = store
        self._codecs = codecs
        self._renderer = renderer
        self._clock = clock
        self._freshness = freshness
        self._by_eui: TtlCache[tuple[int, str], Device] = TtlCache(
            clock, BACKSTOP_TTL_S, freshness=(freshness, DEVICES)
        )
        self._by_short_id: TtlCache[tuple[int, str], Device] = TtlCache(
            clock, BACKSTOP_TTL_S, freshness=(freshness, DEVICES)
        )

    async def add(self, project: Project, device: NewDevice) -> Device:
        if device.tag_id is not None and not 0 <= device.tag_id < HUB_TAG_BASE:
            raise InvalidInput(
                f"tag id {device.tag_id} is out of range (0 to {HUB_TAG_BASE - 1}; the hub gives tag ids "
                f"from {HUB_TAG_BASE} up to devices that have none)"
            )
        values.text(device.name, "the device name", max_length=MAX_NAME)
        if device.asset is not None:
            values.text(device.asset, "the asset", max_length=MAX_NAME, allow_empty=True)
        values.text(device.device_type, "the device type", max_length=MAX_TYPE)
        if device.codec not in self._codecs.names():
            known = ", ".join(self._codecs.names())
            raise InvalidInput(f"unknown codec {device.codec!r}; known: {known}")
        if device.eui is not None:
            device = dataclasses.replace(device, eui=normalize_eui(device.eui))
        added = await self._store.add_device(
            project_id=project.id,
            device=device,
            guid=guid() if device.guid is None else normalize_guid(device.guid),
            short_id=short_id(),
            created_us=self._clock.now_us(),
            tag_from=HUB_TAG_BASE,
        )
        self._freshness.announce(DEVICES)
        return added

    async def update(self, device: Device, **changes: Any) -> Device:
        """Change a device's fields (names as in `Device`); every worker sees the change at once, and the
        renderings kept with its readings follow it. AlreadyExists when a tag id, EUI or GUID is taken."""
        await self._store.update_device(device.id, **changes)
        # Announced first, so that new readings are rendered with the device as it is now while the ones
        # already stored are refreshed.
        self._freshness.announce(DEVICES)
        changed = dataclasses.replace(device, **{k: v for k, v in changes.items() if hasattr(device, k)})
        if any(getattr(changed, name) != getattr(device, name) for name in self._renderer.depends_on):
            await self._store.rewrite_renderings(
                device.id, lambda text: self._renderer.refresh(changed, text)
            )
        return changed

    async def edit(
        self,
        device: Device,
        *,
        name: str | None = None,
        asset: str | None = None,
        tag_id: int | None = None,
        eui: str | None = None,
        guid: str | None = None,
    ) -> Device:
        """What an operator may change of a device, each value checked as `add` checks it."""
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = values.text(name, "the device name", max_length=MAX_NAME)
        if asset is not None:
            changes["asset"] = values.text(asset, "the asset", max_length=MAX_NAME, allow_empty=True) or None
        if tag_id is not None:
            changes["tag_id"] = values.within(tag_id, "the tag id", maximum=HUB_TAG_BASE - 1)
        if eui is not None:
            changes["eui"] = normalize_eui(eui)
        if guid is not None:
            changes["guid"] = normalize_guid(guid)
        return await self.update(device, **changes) if changes else device

    async def delete(self, device: Device) -> None:
        await self._store.delete_device(device.id)
        self._freshness.announce(DEVICES)

    async def by_short_id(self, project: Project, short_id: str) -> Device | None:
        """Remembered until a device changes: every message of a gateway's link names its gateway so."""
        key = (project.id, short_id)
        return self._by_short_id.peek(key) or await self._by_short_id.get(
            key, lambda: self._store.device_by_short_id(project.id, short_id)
        )

    async def by_id(self, project: Project, device_id: int) -> Device | None:
        return next((d for d in await self.list(project) if d.id == device_id), None)

    async def by_guid(self, project: Project, guid: str) -> Device | None:
        return await self._store.device_by_guid(project.id, guid)

    async def by_tag(self, project: Project, tag_id: int) -> Device | None:
        return await self._store.device_by_tag(project.id, tag_id)

    async def by_eui(self, project: Project, eui: str) -> Device | None:
        return await self._store.device_by_eui(project.id, eui)

    async def find(
        self, project: Project, *, tag_id: int | None = None, eui: str | None = None, guid: str | None = None
    ) -> Device:
        """The project's device with this tag id, EUI or GUID (exactly one of them); NotFound otherwise."""
        if [tag_id, eui, guid].count(None) != 2:
            raise InvalidInput("name the device by one of its tag id, EUI or GUID")
        if tag_id is not None:
            found = await self.by_tag(project, values.within(tag_id, "the tag id"))
        elif eui is not None:
            found = await self._store.device_by_eui(project.id, normalize_eui(eui))
        elif guid is not None:
            found = await self.by_guid(project, normalize_guid(guid))
        else:
            raise InvalidInput("name the device by its tag id, EUI or GUID")
        if found is None:
            raise NotFound(
                f"project {project.name} has no such device; `fieldstation device list` shows them"
            )
        return found

    async def identify(self, project: Project, name: str) -> Device:
        """The project's device named by any of its identities: a tag id, an EUI, a GUID or a short id."""
        text = name.strip()
        found: Device | None = None
        if text.isascii() and text.isdigit() and len(text) <= 19:
            found = await self.by_tag(project, values.within(int(text), "the tag id"))
        if found is None and EUI.fullmatch(text.replace("-", "").replace(":", "").upper()):
            found = await self.by_eui(project, normalize_eui(text))
        if found is None:
            with contextlib.suppress(InvalidInput):
                found = await self.by_guid(project, normalize_guid(text))
        if found is None:
            found = await self.by_short_id(project, text)
        if found is None:
            raise NotFound(
                f"project {project.name} has no device {name!r} (a tag id, EUI, GUID or short id); "
                "`fieldstation device list` shows them"
            )
        return found

    async def recent_readings(self, device: Device, limit: int = 10) -> list[Reading]:
        """The device's newest readings, newest first."""
        page, _ = await self._store.device_data(device.id, None, None, 0, limit)
        return [reading for reading, _meta in page]

    async def list(self, project: Project) -> list[Device]:
        return await self._store.devices(project.id)

    async def for_uplink(self, project: Project, eui: str, payload: bytes) -> Device:
        """The project's device with this EUI. Unknown, it is registered from what its frame says when the
        project has `auto_register` on; otherwise NotFound. Found devices are remembered for a few seconds:
        every uplink needs one, and they change rarely."""
        device = self._by_eui.peek((project.id, eui)) or await self._by_eui.get(
            (project.id, eui), lambda: self._store.device_by_eui(project.id, eui)
        )
        if device is None:
            if not project.auto_register:
                raise NotFound(f"no device with EUI {eui} in this project")
            device = await self._register(project, eui, payload)
            self._by_eui.put((project.id, eui), device)
        return device

    async def _register(self, project: Project, eui: str, payload: bytes) -> Device:
        decoded = self._codecs.decode(DEFAULT_CODEC, payload, self._clock.now_us())
        tag_id = decoded.values.get("tag_id")
        version = decoded.values.get("software_version")
        for candidate_tag in (tag_id, None) if tag_id is not None else (None,):
            new = NewDevice(
                name=f"tag {candidate_tag}" if candidate_tag is not None else f"EUI {eui}",
                tag_id=candidate_tag,
                eui=eui,
                software_version=version,
                codec=DEFAULT_CODEC,
            )
            try:
                device = await self.add(project, new)
            except AlreadyExists:
                raced = await self._store.device_by_eui(project.id, eui)
                if raced is not None:
                    return raced  # a concurrent uplink of the same device registered it first
                continue  # the tag id belongs to another EUI: register without it
            log.info(
                "project %s: registered device %s (tag %s) from its first uplink",
                project.name,
                eui,
                candidate_tag,
            )
            return device
        raise AlreadyExists(f"device {eui} could not be registered: its tag id kept being taken; retry")
