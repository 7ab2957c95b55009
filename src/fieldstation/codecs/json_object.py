"""`json`: a payload that is a UTF-8 JSON object, as gateways and bridges send (zigbee2mqtt, smart plugs).

The object becomes the reading's values as it is. By convention a few keys also fill the reading's own
fields: `latitude` and `longitude` (degrees) its position, `ts` (epoch milliseconds) or `timestamp` (epoch
seconds) its time. Anything else is not a JSON object and is a parse failure."""

from __future__ import annotations

import orjson

from fieldstation.core.clock import MICROS
from fieldstation.core.models import Decoded
from fieldstation.core.values import json_value

NAME = "json"
MAX_EPOCH_S = 2**33


def decode(payload: bytes, received_us: int) -> Decoded:
    try:
        value = json_value(payload)
    except orjson.JSONDecodeError as exc:
        return Decoded(error=f"payload is not JSON: {exc}")
    if not isinstance(value, dict):
        return Decoded(error=f"payload is JSON but not an object ({type(value).__name__})")
    latitude, longitude = _degrees(value.get("latitude"), 90), _degrees(value.get("longitude"), 180)
    if latitude is None or longitude is None:
        latitude = longitude = None
    return Decoded(device_time_us=_time_us(value), latitude=latitude, longitude=longitude, values=value)


def _degrees(value: object, limit: float) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= limit:
        return float(value)
    return None


def _time_us(value: dict[str, object]) -> int | None:
    ts, timestamp = value.get("ts"), value.get("timestamp")
    if isinstance(ts, int) and not isinstance(ts, bool) and 0 <= ts < MAX_EPOCH_S * 1000:
        return ts * 1000
    if isinstance(timestamp, int) and not isinstance(timestamp, bool) and 0 <= timestamp < MAX_EPOCH_S:
        return timestamp * MICROS
    return None
