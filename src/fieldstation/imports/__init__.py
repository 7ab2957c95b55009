"""Moving a vendor account's history into a project (`fieldstation import awt|astrocast|instathings`).

Each vendor's import reads the account through `fieldstation.client` (so within the vendor's published
limits), creates the devices, and stores the history through the hub's ingestor with the vendor's record
ids as the readings' ids: a record imported twice is stored once, and an AWT `recordId` or an Astrocast
`messageGuid` is the same on fieldstation as it was on the vendor's service. A checkpoint after every page
lets a stopped import resume where it stopped. With `follow`, new records keep coming until the import is
cancelled."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson

from fieldstation.client.exchange import partial_file
from fieldstation.core.hub import Hub
from fieldstation.core.models import Device, NewUplink, Project

ClientT = TypeVar("ClientT")
COMMIT_ROWS = 2_000

RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,35}")
"""A vendor's record id kept as the reading's id: what the store's id column holds (36 characters)."""


@dataclass
class Tally:
    """How an import is going, reported after every page."""

    devices_created: int = 0
    records: int = 0
    """Records stored by this run."""
    already_there: int = 0
    """Records the project already held (a re-run, an overlap, a resumed page)."""
    refused: list[str] = field(default_factory=list)
    """Why records could not be kept (first ones only)."""
    refused_count: int = 0
    covered: float = 0.0
    """How much of `span` is done, in the import's own unit (seconds of history, days of messages)."""
    span: float = 0.0
    following: bool = False

    def refuse(self, why: str) -> None:
        self.refused_count += 1
        if len(self.refused) < 20:
            self.refused.append(why)


Watcher = Callable[[Tally], None]


def ignore(tally: Tally) -> None:
    """A watcher that shows nothing."""


class Checkpoint:
    """Where an import is, kept in the data directory (`imports/`), written whole after every page (a
    temporary file renamed over the old one): an import stopped at any moment resumes from its last
    page. One per project, vendor and source account."""

    def __init__(self, directory: Path, project: str, vendor: str, source: str, account: str) -> None:
        digest = hashlib.sha256(f"{source}\n{account}".encode()).hexdigest()[:16]
        self.path = directory / "imports" / f"{project}.{vendor}.{digest}.json"
        self.state: dict[str, Any] = {}
        if self.path.exists():
            self.state = json.loads(self.path.read_text())
        self.state.setdefault("source", source)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with partial_file(self.path) as target:
            target.write(json.dumps(self.state, indent=1).encode())


def tally_json(tally: Tally) -> dict[str, Any]:
    return asdict(tally)


class Unkeepable(ValueError):
    """A record that cannot be written back as JSON (nested deeper than orjson writes, 254 levels)."""


def kept_json(value: object) -> bytes:
    """JSON bytes to keep for a while (a page's records until they are stored). orjson's result holds about
    6.5 KiB of the process's memory whatever its length (measured: a 50,000-reading AWT page kept as
    `orjson.dumps` results took 316 MiB, as copies nothing beyond the page); a copy of it holds its length."""
    try:
        return bytes(memoryview(orjson.dumps(value)))
    except TypeError as exc:  # orjson reads 1,024 levels of nesting and writes 254
        raise Unkeepable(f"it cannot be kept as JSON ({exc})") from None


class Batch:
    """The records of one page, by device, each with the time it counts as inserted."""

    def __init__(self) -> None:
        self.by_device: dict[int, tuple[Device, list[tuple[NewUplink, int]]]] = {}

    def add(self, device: Device, uplink: NewUplink, inserted_us: int) -> None:
        self.by_device.setdefault(device.id, (device, []))[1].append((uplink, inserted_us))


class VendorImport(Generic[ClientT]):
    """What the three imports share: where they write, what they read with, their checkpoint and tally."""

    def __init__(
        self, hub: Hub, project: Project, client: ClientT, checkpoint: Checkpoint, watcher: Watcher
    ) -> None:
        self.hub = hub
        self.project = project
        self.client = client
        self.checkpoint = checkpoint
        self.watch = watcher
        self.tally = Tally()

    async def commit(self, batch: Batch, live: bool) -> None:
        """History is backfilled (inserted when the vendor says, no live events); what arrives while
        following is ingested now, and reaches live subscribers. A transaction holds at most
        `COMMIT_ROWS`: a 50,000-reading AWT page in one took the process to 620 MiB."""
        for device, history in batch.by_device.values():
            for first in range(0, len(history), COMMIT_ROWS):
                part = history[first : first + COMMIT_ROWS]
                if live:
                    stored = await self.hub.ingestor.ingest(device, [uplink for uplink, _ in part])
                else:
                    stored = await self.hub.ingestor.backfill(device, part)
                fresh = sum(not s.duplicate for s in stored)
                self.tally.records += fresh
                self.tally.already_there += len(stored) - fresh
