"""An AWT API v2 account into a project: its tags, then its readings from the archive (by reading time,
50,000 a page, one page every 30 s as the seed allows), then, when following, `/data/latest` every 10 s.

An imported reading keeps its `recordId`, and counts as inserted when it was taken: the API does not say
when the vendor received it, and the pages by arrival (`/data`) then list the history in the order it was
made. Readings that arrive while following are inserted when they arrive, and reach live subscribers."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fieldstation.client.awt import AsyncAwtClient, Reading, Tag
from fieldstation.codecs import awt_reading
from fieldstation.core.clock import MICROS
from fieldstation.core.devices import normalize_eui
from fieldstation.core.errors import DomainError, InvalidInput
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

log = logging.getLogger("fieldstation.imports.awt")

SOURCE = "import:awt"
RECENT_S = 89 * 86_400
"""A later run within this of the previous one reads `/data` (arrivals of the last 90 days) from where the
previous one ended; after longer, the archive again."""
SKEW_S = 60
"""`/data` is read from this long before the previous run ended: the two clocks may differ a little."""


class AwtImport(VendorImport[AsyncAwtClient]):
    def __init__(
        self, hub: Hub, project: Project, client: AsyncAwtClient, checkpoint: Checkpoint, watcher: Watcher
    ) -> None:
        super().__init__(hub, project, client, checkpoint, watcher)
        self._devices: dict[int, Device] = {}
        self._last_taken_us: int | None = None

    async def run(self, since_s: int | None, follow: bool) -> Tally:
        self.client.policy.pacer.restore(self.checkpoint.state.get("pacing", {}))
        await self.copy_tags(await self.client.devices())
        await self.copy_history(since_s)
        if follow:
            await self.follow()
        return self.tally

    async def copy_tags(self, tags: Sequence[Tag]) -> None:
        for tag in tags:
            tag_id = _tag_id(tag.get("tag_id"))
            if tag_id is None:
                self.tally.refuse(f"tag {tag.get('tag_id')!r}: not a tag number")
                continue
            await self._device(tag_id, tag)

    async def copy_history(self, since_s: int | None) -> None:
        """A first pass reads the archive (by reading time) from `since_s`; a later one, within the 90 days
        that `/data` covers, reads what arrived since the previous pass ended (by arrival: a collar that
        delivers a week late is not missed). A resumed pass keeps its window, so its offsets stay put."""
        state = self.checkpoint.state
        now_s = self.hub.clock.now_us() // MICROS
        requested = since_s or 0
        if requested < state.get("since", requested):
            for key in ("pass_end", "synced_until"):  # earlier history asked for: a pass from there
                state.pop(key, None)
        state["since"] = requested
        if "pass_end" not in state:
            synced = state.get("synced_until")
            if synced is not None and now_s - int(synced) < RECENT_S:
                state.update(pass_kind="data", pass_start=int(synced) - SKEW_S)
            else:
                state.update(pass_kind="archive", pass_start=since_s)
            state.update(pass_end=now_s, offset=0)
            self._save()
        start, end, by_arrival = state["pass_start"], int(state["pass_end"]), state.get("pass_kind") == "data"
        first = archive_start(start)
        self.tally.span = max(1.0, end - first)
        read = self.client.data_pages if by_arrival else self.client.archive_pages
        async for page in read(start=start, end=end, offset=int(state["offset"])):
            await self.store(page, live=False)
            state["offset"] = int(state["offset"]) + len(page)
            self._save()
            last = page[-1].get("timestamp")
            del page  # before the next page is read: a page of 50,000 readings is 100 MiB of objects
            if isinstance(last, int) and not by_arrival:
                self.tally.covered = min(self.tally.span, max(0, last - first))
            self.watch(self.tally)
        state["synced_until"] = end
        for key in ("pass_kind", "pass_start", "pass_end", "offset"):
            state.pop(key, None)
        self._save()
        self.tally.covered = self.tally.span
        self.watch(self.tally)

    def _save(self) -> None:
        self.checkpoint.state["pacing"] = self.client.policy.pacer.state()
        self.checkpoint.save()

    async def follow(self) -> None:
        """`/data/latest` (what arrived since the previous call with this key) until cancelled."""
        self.tally.following = True
        self.watch(self.tally)
        while True:
            readings = await self.client.latest()
            if readings:
                await self.store(readings, live=True)
                self.watch(self.tally)

    async def store(self, readings: Sequence[Reading], live: bool) -> None:
        now_us = self.hub.clock.now_us()
        batch = Batch()
        for reading in readings:
            record_id, tag = reading.get("recordId"), reading.get("tagId")
            if not isinstance(record_id, str) or not RECORD_ID.fullmatch(record_id):
                self.tally.refuse(f"reading {str(record_id)[:40]!r}: its recordId cannot be kept as an id")
                continue
            tag_id = _tag_id(tag) if isinstance(tag, int) else None  # a number, as the seed's Reading has it
            if tag_id is None:
                self.tally.refuse(f"reading {record_id}: no tag number")
                continue
            device = await self._device(tag_id, None)
            taken_us = _taken_us(reading)
            if live:
                inserted_us = now_us
            else:
                # A reading without a time (its payload could not be parsed) is placed where the archive
                # listed it: at the time of the reading before it.
                inserted_us = min(
                    now_us, taken_us or self._last_taken_us or _first_taken_us(readings, now_us)
                )
                self._last_taken_us = taken_us or self._last_taken_us
            try:
                payload = kept_json(reading)
            except Unkeepable as exc:
                self.tally.refuse(f"reading {record_id}: {exc}")
                continue
            uplink = NewUplink(
                source=SOURCE,
                payload=payload,
                received_us=inserted_us,
                raw=payload,
                uid=record_id,
                codec=awt_reading.NAME,
            )
            batch.add(device, uplink, inserted_us)
        await self.commit(batch, live)

    async def _device(self, tag_id: int, tag: Tag | None) -> Device:
        """The project's device of this tag: found, or made from the vendor's tag (or from the tag number
        alone, for a reading of a tag the device list did not show)."""
        known = self._devices.get(tag_id)
        if known is not None:
            return known
        device = await self.hub.devices.by_tag(self.project, tag_id)
        eui = None if tag is None else _eui(tag.get("imei"))
        if device is None and eui is not None:
            device = await self.hub.devices.by_eui(self.project, eui)
            if device is not None and device.tag_id not in (None, tag_id):
                held_by = device.tag_id
                log.warning("tag %s: its IMEI %s is tag %s's here; added by number", tag_id, eui, held_by)
                device, eui = None, None
            elif device is not None and device.tag_id is None:
                device = await self.hub.devices.update(device, tag_id=tag_id)
        if device is None:
            try:
                device = await self.hub.devices.add(self.project, _new_device(tag_id, eui, tag))
            except DomainError as exc:  # an EUI held by another tag of the project, a bad field
                log.warning("tag %s: %s; added with its number only", tag_id, exc)
                device = await self.hub.devices.add(self.project, _new_device(tag_id, None, None))
            self.tally.devices_created += 1
        self._devices[tag_id] = device
        return device


def archive_start(start: int | None) -> int:
    """The archive's own default start (2016-01-01) when the import gives none."""
    return 1_451_606_400 if start is None else start


def _taken_us(reading: Reading) -> int | None:
    timestamp = reading.get("timestamp")
    if isinstance(timestamp, int) and not isinstance(timestamp, bool) and 0 <= timestamp < 2**33:
        return timestamp * MICROS
    return None


def _first_taken_us(readings: Sequence[Reading], default_us: int) -> int:
    return next((t for t in map(_taken_us, readings) if t is not None), default_us)


def _tag_id(value: object) -> int | None:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    return None


def _eui(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return normalize_eui(value)
    except InvalidInput:
        return None


def _new_device(tag_id: int, eui: str | None, tag: Tag | None) -> NewDevice:
    if tag is None:
        return NewDevice(name=f"tag {tag_id}", tag_id=tag_id)
    version = tag.get("software_version")
    made = tag.get("created_at")
    asset = tag.get("asset")
    device_type = tag.get("device_type")
    return NewDevice(
        name=f"{asset} {tag_id}" if isinstance(asset, str) and asset else f"tag {tag_id}",
        tag_id=tag_id,
        eui=eui,
        asset=asset if isinstance(asset, str) else None,
        device_type=device_type if isinstance(device_type, str) and device_type else "LoRA",
        software_version=version if isinstance(version, int) and 0 <= version < 2**31 else None,
        manufactured_us=made * MICROS if isinstance(made, int) and 0 <= made < 2**33 else None,
    )
