"""Exports of a project's tracks (or one device's) over a period, in the formats other tools read
(`formats.py`): from the CLI (`fieldstation export`) and, later, the portal. Streamed: what is held in
memory is a chunk of fixes, whatever the period."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from fieldstation.core.hub import Hub
from fieldstation.core.models import Device
from fieldstation.core.ports import Fix
from fieldstation.export.formats import FORMATS, Format, Individual, Track

__all__ = ["FORMATS", "OPEN_END_US", "Format", "export", "individual"]

OPEN_END_US = 253_402_300_799_999_999
"""9999-12-31T23:59:59.999999Z: an export with no end."""


def individual(device: Device) -> Individual:
    """Who a device's fixes describe: the device's name (the demo's elephants are Tembo and Nandi, both of
    the asset "Savannah Elephant"), tagged by its tag id (else its short id)."""
    tag = str(device.tag_id) if device.tag_id is not None else device.short_id
    return Individual(name=device.name, tag=tag, asset=device.asset or "")


def export(
    hub: Hub,
    devices: list[Device],
    since_us: int,
    until_us: int,
    format_name: str,
    progress: Callable[[int], None] | None = None,
) -> AsyncIterator[str]:
    """The devices' fixes within [since_us, until_us] (fix times) in `format_name`, as pieces of text.
    `progress` hears how many fixes each chunk held."""
    return FORMATS[format_name].write(_tracks(hub, devices, since_us, until_us, progress))


async def _tracks(
    hub: Hub, devices: list[Device], since_us: int, until_us: int, progress: Callable[[int], None] | None
) -> AsyncIterator[Track]:
    for device in devices:
        yield Track(individual(device), _counted(hub.readings.fixes(device, since_us, until_us), progress))


async def _counted(
    chunks: AsyncIterator[list[Fix]], progress: Callable[[int], None] | None
) -> AsyncIterator[list[Fix]]:
    async for chunk in chunks:
        if progress is not None:
            progress(len(chunk))
        yield chunk
