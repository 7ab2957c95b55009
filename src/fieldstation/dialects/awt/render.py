"""The AWT Reading object. Rendered once, when the reading is written (see store.schema.readings.awt_json)."""

from __future__ import annotations

from typing import Any

import orjson

from fieldstation.core.clock import MICROS
from fieldstation.core.models import Decoded, Device

READING_FIELDS = (
    "recordId",
    "tagId",
    "softwareVersion",
    "reportingInterval",
    "voltage",
    "batteryPercentage",
    "timestamp",
    "latitude",
    "longitude",
    "accelerometer",
    "hdop",
    "hdopRaw",
    "movement",
    "alarm",
    "coverage",
    "retries",
    "speed",
    "temperature",
    "altitude",
    "lux",
)
"""In the seed's order. `error` follows, only for a reading whose payload could not be parsed; `warning`, only
for a reading whose frame was read despite something amiss (a CRC mismatch, another tag's id)."""


def reading_object(device: Device, uid: str, decoded: Decoded) -> dict[str, Any]:
    if decoded.error is not None:
        failed: dict[str, Any] = dict.fromkeys(READING_FIELDS)
        failed.update(recordId=uid, tagId=device.tag_id, error=decoded.error)
        return failed
    values = decoded.values
    hdop_m = values.get("hdop_m")
    reading: dict[str, Any] = {
        "recordId": uid,
        "tagId": device.tag_id,
        "softwareVersion": values.get("software_version", device.software_version),
        "reportingInterval": values.get("reporting_interval"),
        "voltage": values.get("voltage"),
        "batteryPercentage": values.get("battery_percentage"),
        "timestamp": None if decoded.device_time_us is None else decoded.device_time_us // MICROS,
        "latitude": decoded.latitude,
        "longitude": decoded.longitude,
        "accelerometer": values.get("accelerometer"),
        "hdop": None if hdop_m is None else f"{hdop_m}m",
        "hdopRaw": values.get("hdop_raw"),
        "movement": values.get("movement"),
        "alarm": values.get("alarm"),
        "coverage": values.get("coverage"),
        "retries": values.get("retries"),
        "speed": values.get("speed_kph"),
        "temperature": values.get("temperature_c"),
        "altitude": values.get("altitude_m"),
        "lux": values.get("lux"),
    }
    if decoded.warnings:
        reading["warning"] = "; ".join(decoded.warnings)
    return reading


def render_reading(device: Device, uid: str, decoded: Decoded) -> str:
    return orjson.dumps(reading_object(device, uid, decoded)).decode()


class AwtRenderer:
    """The AWT Reading object, kept with each reading (`core.ports.ReadingRenderer`). Of the device it shows
    the tag id, so a new tag id refreshes the stored objects: no AWT page shows a tag the device no longer
    has. (`softwareVersion` is what the frame reported, or the device's version when it was received: a
    reading's history, which a later firmware does not rewrite.)"""

    depends_on: tuple[str, ...] = ("tag_id",)

    def render(self, device: Device, uid: str, decoded: Decoded) -> str:
        return render_reading(device, uid, decoded)

    def refresh(self, device: Device, rendered: str) -> str:
        reading = orjson.loads(rendered)
        reading["tagId"] = device.tag_id
        return orjson.dumps(reading).decode()


RENDERER = AwtRenderer()
