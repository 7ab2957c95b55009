"""From an uplink to a stored reading: decode with the device's codec, render the views that are rendered
at write time, and commit. Nothing is acknowledged before its commit.

Concurrent submissions are written together: one writer task takes whatever is queued (up to
`MAX_BATCH`), writes it in one transaction, and only then answers each submitter (group commit). One fsync
then serves a whole batch, which is what lets a SQLite hub with `synchronous=FULL` take thousands of
uplinks a second."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.devices import Devices
from fieldstation.core.errors import StoreUnavailable
from fieldstation.core.events import EventBus
from fieldstation.core.ids import ordered_guid
from fieldstation.core.models import Device, Event, NewUplink, Project
from fieldstation.core.ports import (
    UID_KEY,
    PayloadDecoder,
    ReadingRenderer,
    ReadingStore,
    ReadingToStore,
    StoredReading,
)
from fieldstation.core.values import INT32_MAX

log = logging.getLogger("fieldstation.ingest")


MAX_BATCH = 1_000
DEDUP_WINDOW_US = 24 * 3600 * MICROS
"""The same EUI, frame counter and payload within a day is one uplink delivered again. Beyond a day it is
a new one (a device that rejoined and restarted its counter)."""


def dedup_key(uplink: NewUplink) -> str:
    if uplink.uid is not None:
        return f"{UID_KEY}{uplink.uid}"
    digest = hashlib.sha256(uplink.payload).hexdigest()[:32]
    counter = "-" if uplink.f_cnt is None else str(uplink.f_cnt)
    return f"{uplink.eui or '-'}:{counter}:{digest}"


class Ingestor:
    def __init__(
        self,
        store: ReadingStore,
        clock: Clock,
        renderer: ReadingRenderer,
        events: EventBus,
        devices: Devices,
        codecs: PayloadDecoder,
    ) -> None:
        self._store = store
        self._codecs = codecs
        self._clock = clock
        self._renderer = renderer
        self._events = events
        self._devices = devices
        self._versions_written: dict[int, int] = {}
        """Device id -> the software version this process last wrote: items queued before the write still
        carry the old device, and must not write it again."""
        self._queue: asyncio.Queue[tuple[ReadingToStore, asyncio.Future[StoredReading]]] | None = None
        self._writer: asyncio.Task[None] | None = None

    def prepare(self, device: Device, uplink: NewUplink, inserted_us: int | None = None) -> ReadingToStore:
        decoded = self._codecs.decode(device.codec, uplink.payload, uplink.received_us)
        if decoded.error is None and decoded.device_time_us is None and uplink.device_time_us is not None:
            decoded = dataclasses.replace(decoded, device_time_us=uplink.device_time_us)
        if decoded.error is None and decoded.latitude is None and uplink.position is not None:
            decoded = dataclasses.replace(decoded, latitude=uplink.position[0], longitude=uplink.position[1])
        frame_tag = decoded.values.get("tag_id")
        if isinstance(frame_tag, int) and device.tag_id is not None and frame_tag != device.tag_id:
            warning = f"the frame says tag {frame_tag}; the device is registered as tag {device.tag_id}"
            decoded = dataclasses.replace(decoded, warnings=(*decoded.warnings, warning))
        uid = uplink.uid or ordered_guid()
        return ReadingToStore(
            device,
            uid,
            uplink,
            decoded,
            self._renderer.render(device, uid, decoded),
            inserted_us,
            dedup_key(uplink),
        )

    async def ingest(self, device: Device, uplinks: Sequence[NewUplink]) -> list[StoredReading]:
        """Store now, in one transaction of its own."""
        items = [self.prepare(device, up) for up in uplinks]
        stored = await self._store.store_readings(items, self._clock.now_us(), DEDUP_WINDOW_US)
        await self._follow_versions(items, stored)
        return self._announce(items, stored)

    async def _follow_versions(
        self, items: Sequence[ReadingToStore], stored: Sequence[StoredReading]
    ) -> None:
        """A device's software version is what its newest frames report (a tracker updated in the field)."""
        reported: dict[int, tuple[Device, int]] = {}
        for item, result in zip(items, stored, strict=True):
            version = item.decoded.values.get("software_version")
            if result.duplicate or not isinstance(version, int) or isinstance(version, bool):
                continue
            if not 0 <= version <= INT32_MAX:  # a payload's claim, not something the device row can hold
                continue
            if (
                version != item.device.software_version
                and self._versions_written.get(item.device.id) != version
            ):
                reported[item.device.id] = (item.device, version)
        for device, version in reported.values():
            self._versions_written[device.id] = version
            log.info(
                "device %s now reports software version %s (was %s)",
                device.id,
                version,
                device.software_version,
            )
            await self._devices.update(device, software_version=version)

    def _announce(self, items: Sequence[ReadingToStore], stored: list[StoredReading]) -> list[StoredReading]:
        """Tell live subscribers about what was just committed (not about duplicates)."""
        now = self._clock.now_us()
        for item, result in zip(items, stored, strict=True):
            if result.duplicate or not self._events.subscribers(item.device.project_id):
                continue
            meta = item.uplink.meta if item.uplink is not None else {}
            self._events.publish(
                Event(
                    item.device.project_id,
                    "data",
                    {
                        "uid": result.uid,
                        "device": item.device.short_id,
                        "time_us": item.decoded.device_time_us
                        or (item.uplink.received_us if item.uplink else now),
                        "inserted_us": item.inserted_us or now,
                        "values": item.decoded.values,
                        "latitude": item.decoded.latitude,
                        "longitude": item.decoded.longitude,
                        "error": item.decoded.error,
                        "client_id": meta.get("client_id"),
                        "principal": meta.get("principal"),
                    },
                )
            )
        return stored

    async def record_network_event(
        self, project: Project, eui: str | None, network: str, kind: str, meta: dict[str, Any], raw: bytes
    ) -> None:
        """Keep a delivery that is not an uplink (a join, a status report, an acknowledgement), with the
        device it names when the project has it."""
        device = await self._devices.by_eui(project, eui) if eui else None
        await self._store.add_network_event(
            project_id=project.id,
            device_id=None if device is None else device.id,
            network=network,
            kind=kind,
            received_us=self._clock.now_us(),
            meta=meta,
            raw=raw,
        )

    async def backfill(self, device: Device, history: Sequence[tuple[NewUplink, int]]) -> list[StoredReading]:
        """Store uplinks as if each had been inserted at the time paired with it (demo history only)."""
        items = [self.prepare(device, uplink, inserted_us) for uplink, inserted_us in history]
        return await self._store.store_readings(items, self._clock.now_us(), DEDUP_WINDOW_US)

    async def submit(self, device: Device, uplink: NewUplink) -> StoredReading:
        """Store with the next group commit; returns once it is committed (or raises if it was not)."""
        item = self.prepare(device, uplink)
        if self._queue is None:
            return (await self._store.store_readings([item], self._clock.now_us(), DEDUP_WINDOW_US))[0]
        done: asyncio.Future[StoredReading] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, done))
        return await done

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._writer = asyncio.create_task(
            self._write_batches(self._queue), name="fieldstation-ingest-writer"
        )

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        queue, writer = self._queue, self._writer
        self._queue = None
        if queue is not None and writer is not None:
            await queue.join()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _write_batches(
        self, queue: asyncio.Queue[tuple[ReadingToStore, asyncio.Future[StoredReading]]]
    ) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._write(batch)
            except Exception as exc:  # the writer serves every project: it must outlive any batch
                log.exception(
                    "a batch of %d uplinks failed unexpectedly; none of it was acknowledged", len(batch)
                )
                _fail(batch, exc)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _write(self, batch: list[tuple[ReadingToStore, asyncio.Future[StoredReading]]]) -> None:
        """Write a batch; if it fails, write its halves, and so on, until the item that fails is alone: one
        bad item (or one project's) costs the others a retry, never their answer. A store that cannot be
        reached fails the whole batch at once: splitting would only repeat the wait."""
        items = [item for item, _ in batch]
        try:
            stored = await self._store.store_readings(items, self._clock.now_us(), DEDUP_WINDOW_US)
        except StoreUnavailable as exc:
            log.error("the store cannot be reached; %d uplinks were not acknowledged: %s", len(batch), exc)
            _fail(batch, exc)
        except Exception as exc:
            if len(batch) == 1:
                log.exception(
                    "an uplink of project %s (device %s) could not be stored; it was not acknowledged",
                    items[0].device.project_id,
                    items[0].device.id,
                )
                _fail(batch, exc)
                return
            middle = len(batch) // 2
            await self._write(batch[:middle])
            await self._write(batch[middle:])
        else:
            for (_, done), result in zip(batch, stored, strict=True):
                if not done.done():
                    done.set_result(result)
            try:  # what follows a commit must never cost the writer (or the acknowledged uplinks) anything
                self._announce(items, stored)
                await self._follow_versions(items, stored)
            except Exception:
                log.exception("after a committed batch, events or software versions could not be updated")


def _fail(batch: Sequence[tuple[ReadingToStore, asyncio.Future[StoredReading]]], exc: Exception) -> None:
    for _, done in batch:
        if not done.done():
            done.set_exception(exc)
