"""`awt-reading`: an AWT API v2 Reading object (JSON), as another AWT service serves it, read back into the
values an AWT frame decodes to. `fieldstation import awt` stores a vendor's history with it: the reading's
AWT object rendered again from these values is the object that was imported, field for field (tested), and
its other views (Instathings data, Astrocast messages) are what a decoded frame would have given.

Every field is checked: a value of the wrong type or out of range makes the reading a parse failure (its
`error` says which field), never a value the store or the views cannot hold."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import orjson

from fieldstation.core.clock import MICROS
from fieldstation.core.models import Decoded

NAME = "awt-reading"
MAX_EPOCH_S = 2**33
INT_LIMIT = 2**53
MAX_TEXT = 1_000
_HDOP = re.compile(r"([0-9]{1,6}(?:\.[0-9]{1,6})?)m")


class _Bad(ValueError):
    pass


def _integer(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > INT_LIMIT:
        raise _Bad(f"{name} is not an integer")
    return value


def _number(value: Any, name: str) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Bad(f"{name} is not a number")
    if abs(value) > INT_LIMIT:
        raise _Bad(f"{name} is out of range")
    return value


def _flag(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _Bad(f"{name} is not true or false")


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise _Bad(f"{name} is not a short text")
    return value


def _degrees(value: Any, name: str, limit: float) -> float | None:
    number = _number(value, name)
    if number is not None and abs(number) > limit:
        raise _Bad(f"{name} is out of range")
    return number


def _accelerometer(value: Any) -> dict[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"x", "y", "z"}:
        raise _Bad("accelerometer is not an object of x, y and z")
    return {axis: _integer(value[axis], f"accelerometer.{axis}") for axis in ("x", "y", "z")}  # type: ignore[misc]


def _hdop_m(value: Any) -> tuple[float | int | None, str | None]:
    """The HDOP in metres, and a warning when the text is one the renderer would not write back as it was
    ("10.50m", "007m"): the value is then not kept, rather than kept and shown differently."""
    text = _text(value, "hdop")
    if text is None:
        return None, None
    match = _HDOP.fullmatch(text)
    number: float | int | None = None
    if match is not None:
        number = int(match[1]) if "." not in match[1] else float(match[1])
    if number is None or f"{number}m" != text:
        return None, f'hdop {text[:20]!r} was not kept: not metres as AWT writes them ("10m")'
    return number, None


FIELDS: dict[str, tuple[str, Callable[[Any, str], Any]]] = {
    "softwareVersion": ("software_version", _integer),
    "reportingInterval": ("reporting_interval", _text),
    "voltage": ("voltage", _number),
    "batteryPercentage": ("battery_percentage", _number),
    "hdopRaw": ("hdop_raw", _integer),
    "movement": ("movement", _flag),
    "alarm": ("alarm", _flag),
    "coverage": ("coverage", _flag),
    "retries": ("retries", _integer),
    "speed": ("speed_kph", _number),
    "temperature": ("temperature_c", _number),
    "altitude": ("altitude_m", _number),
    "lux": ("lux", _number),
}
"""The Reading's fields that are values, and the names a decoded frame gives them."""


def decode(payload: bytes, received_us: int) -> Decoded:
    try:
        reading = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return Decoded(error=f"payload is not JSON: {exc}")
    if not isinstance(reading, dict):
        return Decoded(error="payload is not an AWT Reading object")
    try:
        return _decoded(reading)
    except _Bad as exc:
        return Decoded(error=f"imported reading: {exc}")


def _decoded(reading: dict[str, Any]) -> Decoded:
    error = reading.get("error")
    if error is not None:
        return Decoded(error=_text(error, "error") or "")
    values: dict[str, Any] = {"tag_id": _integer(reading.get("tagId"), "tagId")}
    for field, (name, check) in FIELDS.items():
        values[name] = check(reading.get(field), field)
    values["accelerometer"] = _accelerometer(reading.get("accelerometer"))
    values["hdop_m"], hdop_warning = _hdop_m(reading.get("hdop"))
    timestamp = _integer(reading.get("timestamp"), "timestamp")
    if timestamp is not None and not 0 <= timestamp < MAX_EPOCH_S:
        raise _Bad("timestamp is out of range")
    warning = _text(reading.get("warning"), "warning")
    warnings = (*(warning.split("; ") if warning else ()), *((hdop_warning,) if hdop_warning else ()))
    return Decoded(
        device_time_us=None if timestamp is None else timestamp * MICROS,
        latitude=_degrees(reading.get("latitude"), "latitude", 90),
        longitude=_degrees(reading.get("longitude"), "longitude", 180),
        values=values,
        warnings=warnings,
    )
