"""An Astrocast account into a project: its devices, then its messages a day of received dates at a time,
then, when following, the days since every minute.

A message keeps its `messageGuid` as the reading's id, and counts as inserted when the network received it.
Windows end a minute before now: a message the vendor received a moment ago may not be listed yet, and the
next window starts where this one ended."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

from fieldstation.client.astrocast import AsyncAstrocastClient, Message, Window
from fieldstation.client.astrocast import Device as AstrocastDevice
from fieldstation.core.clock import MICROS
from fieldstation.core.devices import normalize_guid
from fieldstation.core.errors import DomainError, InvalidInput
from fieldstation.core.hub import Hub
from fieldstation.core.models import Device, NewDevice, Project
from fieldstation.imports import Batch, Checkpoint, Tally, Unkeepable, VendorImport, Watcher, kept_json
from fieldstation.networks import BadBody, astrocast

log = logging.getLogger("fieldstation.imports.astrocast")

SOURCE = "import:astrocast"
DEFAULT_SINCE = datetime(2021, 1, 1, tzinfo=UTC)
"""Before Astrocast's network carried its customers' messages: the whole history."""
SETTLE = timedelta(minutes=1)
FOLLOW_EVERY_S = 60.0
CODEC = "passthrough"
"""The Pull API gives a message's bytes and the network's position, not what the bytes mean."""


class AstrocastImport(VendorImport[AsyncAstrocastClient]):
    def __init__(
        self,
        hub: Hub,
        project: Project,
        client: AsyncAstrocastClient,
        checkpoint: Checkpoint,
        watcher: Watcher,
    ) -> None:
        super().__init__(hub, project, client, checkpoint, watcher)
        self._devices: dict[str, Device] = {}

    async def run(self, since: datetime | None, follow: bool) -> Tally:
        for found in await self.client.devices():
            guid = _guid(found.get("deviceGuid"))
            if guid is None:
                self.tally.refuse(
                    f"device {str(found.get('deviceGuid'))[:40]!r}: its deviceGuid is not a GUID"
                )
                continue
            await self._device(guid, found)
        start = since or DEFAULT_SINCE
        await self.copy(start, live=False)
        if follow:
            self.tally.following = True
            self.watch(self.tally)
            while True:
                await self.client.policy.clock.asleep(FOLLOW_EVERY_S)
                await self.copy(start, live=True)
        return self.tally

    async def copy(self, since: datetime, live: bool) -> None:
        """The windows from where the previous one ended (or `since`) to a minute ago."""
        state = self.checkpoint.state
        if "since" in state and since < datetime.fromisoformat(state["since"]):
            state.pop("received_until", None)  # earlier history asked for: a pass from there
        state["since"] = since.isoformat()
        done = state.get("received_until")
        start = since if done is None else max(since, datetime.fromisoformat(done))
        end = self._now() - SETTLE
        if not live:
            self.tally.span = max(1.0, (end - since).total_seconds())
        async for window in self.client.message_windows(start, end):
            await self.store(window, live)
            self.checkpoint.state["received_until"] = _moment(window["end"]).isoformat()
            self.checkpoint.save()
            if not live:
                self.tally.covered = (_moment(window["end"]) - since).total_seconds()
            self.watch(self.tally)

    async def store(self, window: Window, live: bool) -> None:
        now_us = self.hub.clock.now_us()
        batch = Batch()
        for message in window["messages"]:
            try:
                raw = kept_json(message)
                parsed = astrocast.parse_message(raw)
            except (BadBody, Unkeepable) as exc:
                self.tally.refuse(f"message {_guid_of(message)}: {exc}")
                continue
            device = await self._device(parsed.device_guid, None)
            uplink = astrocast.message_uplink(parsed, raw, SOURCE)
            batch.add(device, uplink, min(parsed.received_us, now_us))
        await self.commit(batch, live)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.hub.clock.now_us() / MICROS, UTC)

    async def _device(self, guid: str, found: AstrocastDevice | None) -> Device:
        known = self._devices.get(guid)
        if known is not None:
            return known
        device = await self.hub.devices.by_guid(self.project, guid)
        if device is None:
            name = found.get("name") if found else None
            description = found.get("description") if found else None
            plain = NewDevice(name=f"Astronode {guid[:8]}", guid=guid, device_type="Astronode", codec=CODEC)
            try:
                device = await self.hub.devices.add(
                    self.project,
                    dataclasses.replace(
                        plain,
                        name=name if isinstance(name, str) and name.strip() else plain.name,
                        asset=description if isinstance(description, str) else None,
                    ),
                )
            except DomainError as exc:  # a name or description the hub does not take (a line break, too long)
                log.warning(
                    "device %s: %s; added under a name of its GUID, without its description", guid, exc
                )
                device = await self.hub.devices.add(self.project, plain)
            self.tally.devices_created += 1
        self._devices[guid] = device
        return device


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _guid(value: object) -> str | None:
    """A GUID as the store and `networks.astrocast` write it (lower case, hyphens)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return normalize_guid(value)
    except InvalidInput:
        return None


def _guid_of(message: Message) -> str:
    return str(message.get("messageGuid", "?"))[:40]
