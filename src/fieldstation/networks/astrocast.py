"""Astrocast push callbacks (`specs/astrocast.md`): the uplink callback's and the command acknowledgement
callback's bodies, and Astrocast's dates as people and its portal write them. Pure functions: bytes in,
typed values out, `BadBody` with a sentence saying what is wrong."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from fieldstation.core import values
from fieldstation.core.clock import MICROS
from fieldstation.core.models import NewUplink
from fieldstation.core.values import BadValue
from fieldstation.networks.types import BadBody

NAME = "astrocast"
MAX_USER_DATA = 160
"""An Astronode's user payload is at most 160 bytes."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_DATE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$",
    re.ASCII,
)


class BadDate(ValueError):
    pass


def parse_date(value: str) -> int:
    """Dates as people type them: `2020-12-01T01:00:00.00`, `...Z`, `2022-10-1T00:00:00`, `2022-10-01`, an
    offset. Naive means UTC. Returns epoch microseconds."""
    match = _DATE.fullmatch(value.strip())
    if match is None:
        raise BadDate(value)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=UTC
        )
    except ValueError as exc:
        raise BadDate(value) from exc
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[-2:])
        if hours > 23 or minutes > 59:  # RFC 3339's offsets; +99:99 would move the instant by four days
            raise BadDate(value)
        try:
            moment -= sign * timedelta(hours=hours, minutes=minutes)
        except OverflowError as exc:  # an offset that takes the instant out of years 1..9999
            raise BadDate(value) from exc
    micros = int(((fraction or "") + "000000")[:6])
    try:
        return values.time_us(int((moment - EPOCH).total_seconds()) * MICROS + micros, "date")
    except BadValue as exc:
        raise BadDate(value) from exc


@dataclass(frozen=True, slots=True)
class Message:
    """An uplink callback: a message a modem sent through the satellites."""

    message_guid: str
    device_guid: str
    payload: bytes
    received_us: int
    created_us: int | None
    position: tuple[float, float] | None
    """Where the network located the modem, when the callback says."""
    device_group_guid: Any


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    command_guid: str
    received_us: int | None
    acknowledged_us: int | None


def parse_message(body: bytes) -> Message:
    obj = _object(body)
    return Message(
        message_guid=_guid(obj, "messageGuid"),
        device_guid=_guid(obj, "deviceGuid"),
        payload=_user_data(obj),
        received_us=_required(_date(obj, "receivedDate"), "receivedDate"),
        created_us=_date(obj, "createdDate"),
        position=_position(obj),
        device_group_guid=obj.get("deviceGroupGuid"),
    )


def message_uplink(message: Message, raw: bytes, source: str = NAME) -> NewUplink:
    """The uplink a message is: its messageGuid the reading's id, its createdDate and the network's
    position what the payload may not say."""
    return NewUplink(
        source=source,
        payload=message.payload,
        received_us=message.received_us,
        raw=raw,
        meta={"deviceGroupGuid": message.device_group_guid},
        device_time_us=message.created_us,
        position=message.position,
        uid=message.message_guid,
    )


def parse_acknowledgement(body: bytes) -> Acknowledgement:
    obj = _object(body)
    return Acknowledgement(
        command_guid=_guid(obj, "commandGuid"),
        received_us=_date(obj, "receivedDate"),
        acknowledged_us=_date(obj, "ackReceivedDate"),
    )


def _object(body: bytes) -> dict[str, Any]:
    try:
        value = values.json_value(body)
    except orjson.JSONDecodeError as exc:
        raise BadBody(f"The body is not valid JSON ({exc}).") from None
    if not isinstance(value, dict):
        raise BadBody("The body must be a JSON object.")
    return value


def _guid(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise BadBody(f"{name} is missing.")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise BadBody(f"{name} is not a GUID: {value!r}.") from None


def _required(value: int | None, name: str) -> int:
    if value is None:
        raise BadBody(f"{name} is missing.")
    return value


def _date(obj: dict[str, Any], name: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadBody(f"{name} must be a date string.")
    try:
        return parse_date(value)
    except BadDate:
        raise BadBody(f"{name} is not a date: {value!r}.") from None


def _user_data(obj: dict[str, Any]) -> bytes:
    value = obj.get("data", "")
    if not isinstance(value, str):
        raise BadBody("data must be base64 text.")
    try:
        payload = values.base64_bytes(value, "data")
    except BadValue as exc:
        raise BadBody(f"{exc}.") from None
    if len(payload) > MAX_USER_DATA:
        raise BadBody(f"data is {len(payload)} bytes; Astrocast user data is at most {MAX_USER_DATA}.")
    size = obj.get("messageSize")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
        raise BadBody(f"messageSize must be the number of bytes in data, an integer; got {size!r}.")
    if size is not None and size != len(payload):
        raise BadBody(f"messageSize says {size} bytes but data holds {len(payload)}.")
    return payload


def _position(obj: dict[str, Any]) -> tuple[float, float] | None:
    latitude, longitude = obj.get("latitude"), obj.get("longitude")
    if latitude is None or longitude is None:
        return None
    ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (latitude, longitude))
    if not ok or abs(latitude) > 90 or abs(longitude) > 180:
        raise BadBody(f"latitude and longitude must be degrees, got {latitude!r}, {longitude!r}.")
    return float(latitude), float(longitude)
