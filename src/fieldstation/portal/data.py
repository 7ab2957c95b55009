"""What the portal's scripts draw: tracks for the map, a device's series for its plots, and live fixes. Plain
dicts, made from the core services."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fieldstation.core.clock import MICROS
from fieldstation.core.hub import Hub
from fieldstation.core.models import Device, Event, Project
from fieldstation.core.ports import Fix

MAP_FIXES_PER_DEVICE = 5_000
"""A longer track is thinned to about this many fixes (evenly, keeping the last): what a browser draws
smoothly, whatever the period."""
SERIES_POINTS = 5_000
PALETTE = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4",
    "#42d4f4", "#f032e6", "#9a6324", "#800000", "#469990",
)  # fmt: skip
"""A colour per individual, distinct from each other and from the basemap's greys and blues."""
FIX_VALUES = ("voltage", "temperature_c", "speed_kph", "battery_percentage")
"""What a click on a fix shows besides its time and place, in this order after them."""


class BadPeriod(ValueError):
    pass


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def period(start: str | None, end: str | None, now_us: int, default_days: int = 7) -> tuple[int, int]:
    """[since, until] in epoch µs from two dates (YYYY-MM-DD, whole UTC days); by default the last
    `default_days` days to now."""
    try:
        until = _day(end) + timedelta(days=1) if end else None
        since = _day(start) if start else None
    except (ValueError, OverflowError) as exc:  # 9999-12-31 has no next day
        raise BadPeriod("dates are YYYY-MM-DD, from 1970-01-01 to 9999-12-30") from exc
    until_us = _us(until) - 1 if until else now_us
    since_us = _us(since) if since else max(0, until_us - default_days * 86_400 * MICROS)
    if since_us > until_us:
        raise BadPeriod("the period ends before it starts")
    return since_us, until_us


def _day(text: str) -> datetime:
    if not _DATE.fullmatch(text):  # `date.fromisoformat` also takes week dates (2026-W01-1)
        raise ValueError(text)
    day = date.fromisoformat(text)
    if day.year < 1970:  # nothing the hub keeps is older; a week before year 1 is no date at all
        raise ValueError(text)
    return datetime.combine(day, datetime.min.time(), UTC)


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * MICROS


def day_text(time_us: int) -> str:
    return datetime.fromtimestamp(time_us / MICROS, UTC).date().isoformat()


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _fix_row(time_us: int, latitude: float, longitude: float, values: dict[str, Any]) -> list[Any]:
    return [time_us // MICROS, latitude, longitude, *(values.get(name) for name in FIX_VALUES)]


async def tracks(hub: Hub, project: Project, since_us: int, until_us: int) -> dict[str, Any]:
    """Each device's fixes in the period, oldest first, as [time_s, lat, lon, voltage, temperature_c,
    speed_kph, battery_percentage]; thinned past MAP_FIXES_PER_DEVICE."""
    devices = await map_devices(hub, project)
    out = []
    for index, device in enumerate(devices):
        total = await hub.readings.count_fixes([device], since_us, until_us)
        step = max(1, math.ceil(total / MAP_FIXES_PER_DEVICE))
        fixes: list[list[Any]] = []
        seen = 0
        last: Fix | None = None
        async for chunk in hub.readings.fixes(device, since_us, until_us):
            for fix in chunk:
                if seen % step == 0:
                    fixes.append(_fix_row(fix.time_us, fix.latitude, fix.longitude, fix.values))
                seen += 1
                last = fix
        if last is not None and (seen - 1) % step:
            fixes.append(_fix_row(last.time_us, last.latitude, last.longitude, last.values))
        out.append(
            {
                "id": device.short_id,
                "name": device.name,
                "tag": device.tag_id,
                "asset": device.asset,
                "colour": colour(index),
                "fixes": fixes,
                "total": total,
            }
        )
    return {
        "since": since_us // MICROS,
        "until": until_us // MICROS,
        "fields": list(FIX_VALUES),
        "palette": list(PALETTE),
        "devices": out,
    }


async def map_devices(hub: Hub, project: Project) -> list[Device]:
    """The devices that can have a track, in a stable order (their colours stay put)."""
    return sorted(
        (device for device in await hub.devices.list(project) if not device.is_gateway),
        key=lambda device: device.id,
    )


def live_fix(event: Event) -> dict[str, Any] | None:
    """A data event as the map draws it; None for other events."""
    if event.action != "data":
        return None
    payload = event.payload
    values = payload.get("values") or {}
    latitude, longitude = payload.get("latitude"), payload.get("longitude")
    return {
        "device": payload.get("device"),
        "fix": None
        if latitude is None or longitude is None or payload.get("error")
        else _fix_row(int(payload["time_us"]), latitude, longitude, values),
        "error": payload.get("error"),
        "time": int(payload["time_us"]) // MICROS,
    }


async def series(hub: Hub, device: Device, since_us: int, until_us: int) -> dict[str, list[Any]]:
    """Battery voltage and temperature over the period, oldest first (for uPlot: columns)."""
    page, _ = await hub.readings.device_page(device, since_us, until_us, 0, SERIES_POINTS)
    times: list[int] = []
    voltage: list[Any] = []
    temperature: list[Any] = []
    for reading, _meta in reversed(page):
        times.append(reading.time_us // MICROS)
        voltage.append(reading.values.get("voltage"))
        temperature.append(reading.values.get("temperature_c"))
    return {"time": times, "voltage": voltage, "temperature_c": temperature}
