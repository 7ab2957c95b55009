"""An Instathings project into a fieldstation project: its gateways and devices (a gateway before its
sub-devices), then each device's data pages, then, when following, the WebSocket's `data` events.

A record keeps its `id` as the reading's id, its `ts` as the reading's time, and its `principal` and
`clientId`. Device ids cannot be kept (each hub makes its own); the checkpoint maps the source's to ours.
A virtual device is copied with its production off: the source keeps producing, and its data is imported."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fieldstation.client.instathings import AsyncInstathingsClient, DataRecord
from fieldstation.core.errors import DomainError
from fieldstation.core.hub import Hub
from fieldstation.core.models import Device, NewDevice, NewUplink, Project
from fieldstation.imports import (
    RECORD_ID,
    Batch,
    Checkpoint,
    Tally,
    Unkeepable,
    VendorImport,
    Watcher,
    kept_json,
)

log = logging.getLogger("fieldstation.imports.instathings")

SOURCE = "import:instathings"
CODEC = "json"
MAX_NAME = 64
MAX_MS = 2**33 * 1000
MAX_PARAMETERS_BYTES = 4096


class InstathingsImport(VendorImport[AsyncInstathingsClient]):
    def __init__(
        self,
        hub: Hub,
        project: Project,
        client: AsyncInstathingsClient,
        checkpoint: Checkpoint,
        watcher: Watcher,
    ) -> None:
        super().__init__(hub, project, client, checkpoint, watcher)
        self.mapping: dict[str, str] = self.checkpoint.state.setdefault("devices", {})
        """The source's device id -> our device's guid."""
        self._devices: dict[str, Device] = {}
        self._source = str(self.checkpoint.state.get("source", ""))
        """The source's URL: with a device's id there, the GUID its copy here gets (the same every run)."""

    async def run(self, since_ms: int | None, follow: bool) -> Tally:
        found = await self.client.devices()
        await self.copy_devices(found)
        sources = [str(d["id"]) for d in found if str(d.get("id")) in self.mapping]
        self.tally.span = float(len(sources))
        for done, source_id in enumerate(sources):
            await self.copy_data(source_id, since_ms)
            self.tally.covered = float(done + 1)
            self.watch(self.tally)
        if follow:
            project = next((d["projectId"] for d in found if isinstance(d.get("projectId"), str)), None)
            if project is None:
                raise DomainError(
                    "the source lists no device with a projectId: its WebSocket needs the project to follow"
                )
            await self.follow(project)
        return self.tally

    async def copy_devices(self, found: Sequence[dict[str, Any]]) -> None:
        # Gateways first: a sub-device names its gateway.
        for device in sorted(found, key=lambda d: d.get("parentDevice") is not None):
            source_id = device.get("id")
            if not isinstance(source_id, str) or not source_id or len(source_id) > MAX_NAME:
                self.tally.refuse(f"device {str(source_id)[:40]!r}: no usable id")
                continue
            try:
                await self._device(source_id, device)
            except DomainError as exc:
                self.tally.refuse(f"device {source_id}: {exc}")
        self.checkpoint.save()

    async def copy_data(self, source_id: str, since_ms: int | None) -> None:
        """The device's records up to when this pass began, newest first, page by page; a stopped pass
        resumes at its page (the pages do not move: newer records are past the pass's end)."""
        state = self.checkpoint.state
        requested = since_ms or 0
        if requested < state.get("since_ms", requested):  # earlier history asked for: passes from there
            state.pop("passes", None)
            state.pop("synced_until_ms", None)
        state["since_ms"] = requested
        passes: dict[str, Any] = state.setdefault("passes", {})
        synced: dict[str, int] = state.setdefault("synced_until_ms", {})
        current = passes.get(source_id)
        if current is None:
            start = since_ms if source_id not in synced else max(since_ms or 0, synced[source_id] - 1)
            current = passes[source_id] = {"start": start, "end": self.hub.clock.now_us() // 1000, "page": 1}
            self.checkpoint.save()
        device = self._devices.get(source_id) or await self._known(source_id)
        pages = self.client.data_pages(
            source_id, start_ms=current["start"], end_ms=current["end"], first_page=current["page"]
        )
        async for page in pages:
            await self.store(device, page, live=False)
            current["page"] += 1
            self.checkpoint.save()
            self.watch(self.tally)
        synced[source_id] = current["end"]
        del passes[source_id]
        self.checkpoint.save()

    async def follow(self, project: str) -> None:
        """The `data` events until cancelled; a record of a device not seen yet brings the device list."""
        self.tally.following = True
        self.watch(self.tally)
        async for event in self.client.events(project):
            if event["action"] != "data" or not isinstance(event["payload"], dict):
                continue
            record: DataRecord = event["payload"]  # type: ignore[assignment]
            source_id = str(record.get("deviceId"))
            if source_id not in self.mapping:
                await self.copy_devices(await self.client.devices())
            if source_id in self.mapping:
                await self.store(self._devices.get(source_id) or await self._known(source_id), [record], True)
                self.watch(self.tally)

    async def store(self, device: Device, records: Sequence[DataRecord], live: bool) -> None:
        batch = Batch()
        for record in records:
            record_id, ts, data = record.get("id"), record.get("ts"), record.get("data")
            if not isinstance(record_id, str) or not RECORD_ID.fullmatch(record_id):
                self.tally.refuse(f"record {str(record_id)[:40]!r}: its id cannot be kept")
                continue
            if (
                not isinstance(ts, int)
                or isinstance(ts, bool)
                or not 0 <= ts < MAX_MS
                or not isinstance(data, dict)
            ):
                self.tally.refuse(f"record {record_id}: no time or no data object")
                continue
            taken_us = ts * 1000
            try:
                payload, raw = kept_json(data), kept_json(record)
            except Unkeepable as exc:
                self.tally.refuse(f"record {record_id}: {exc}")
                continue
            uplink = NewUplink(
                source=SOURCE,
                payload=payload,
                received_us=taken_us,
                raw=raw,
                meta={
                    "principal": _text(record.get("principal")),
                    "client_id": _text(record.get("clientId")),
                },
                device_time_us=taken_us,
                uid=record_id,
                codec=CODEC,
            )
            batch.add(device, uplink, min(taken_us, self.hub.clock.now_us()))
        await self.commit(batch, live)

    async def _known(self, source_id: str) -> Device:
        device = await self.hub.devices.by_guid(self.project, self.mapping[source_id])
        if device is None:
            raise DomainError(f"device {source_id} was imported and has since been removed here")
        self._devices[source_id] = device
        return device

    async def _device(self, source_id: str, found: dict[str, Any]) -> Device:
        guid = self.mapping.get(source_id) or str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{self._source}#{source_id}")
        )
        known = await self.hub.devices.by_guid(self.project, guid)
        if known is not None:  # imported before (an import stopped before its checkpoint found it too)
            self.mapping[source_id] = known.guid
            self._devices[source_id] = known
            return known
        parent = found.get("parentDevice")
        parent_device = self._devices.get(parent) if isinstance(parent, str) else None
        name = found.get("name")
        frequency = found.get("frequency")
        protocols = found.get("protocols")
        parameters = found.get("parameters")
        type_id = found.get("type")
        is_gateway, is_virtual = found.get("isGateway") is True, found.get("isVirtual") is True
        device = await self.hub.devices.add(
            self.project,
            NewDevice(
                name=name[:MAX_NAME] if isinstance(name, str) and name.strip() else f"device {source_id}",
                device_type="Gateway" if is_gateway else "Virtual" if is_virtual else "Device",
                codec=CODEC,
                is_gateway=is_gateway,
                is_virtual=is_virtual,
                frequency_s=frequency
                if isinstance(frequency, int) and 30 <= frequency <= 30 * 86_400
                else 60,
                type_id=type_id if isinstance(type_id, str) and len(type_id) <= MAX_NAME else None,
                protocols=tuple(p for p in protocols if isinstance(p, str))[:16]
                if isinstance(protocols, list)
                else (),
                parent_id=None if parent_device is None else parent_device.id,
                parameters=parameters if isinstance(parameters, dict) and _small(parameters) else {},
                guid=guid,
            ),
        )
        self.tally.devices_created += 1
        self.mapping[source_id] = device.guid
        self.checkpoint.save()
        self._devices[source_id] = device
        return device


def _small(parameters: dict[str, Any]) -> bool:
    try:
        return len(kept_json(parameters)) <= MAX_PARAMETERS_BYTES
    except Unkeepable:
        return False


def _text(value: object) -> str | None:
    return value[:200] if isinstance(value, str) else None
