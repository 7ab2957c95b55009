"""What a network-server body parses into, and the helpers every parser shares."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from fieldstation.core import values
from fieldstation.core.values import UINT32_MAX, BadValue

MAX_BODY_BYTES = 64 * 1024
"""A webhook body larger than this is refused: real uplink bodies are a few kilobytes."""
MAX_PAYLOAD_BYTES = 242
"""The largest LoRaWAN application payload (FRMPayload at DR7 in EU868)."""
MAX_F_PORT = 255
"""FPort is one byte."""

_HEX_EUI = re.compile(r"[0-9A-Fa-f]{16}")
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$", re.ASCII)


class BadBody(ValueError):
    """The body is not what this network server sends; the message says what is wrong."""


class BadSignature(ValueError):
    """A delivery that the network server signs carries no signature, or a wrong one."""


@dataclass(frozen=True, slots=True)
class Uplink:
    eui: str
    """Upper-case hex, 16 digits."""
    payload: bytes
    f_cnt: int | None = None
    f_port: int | None = None
    received_us: int | None = None
    """When the network server received it; None when the body does not say."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Gateway metadata and whatever else of the body is worth keeping next to the raw body."""


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """A delivery that is not an uplink (join, status, ack, ...): acknowledged, kept where useful."""

    kind: str
    eui: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


Parser = Callable[[bytes, str], "Uplink | OtherEvent"]
"""(body, raw query string) -> what arrived; raises BadBody."""
Verifier = Callable[[bytes, str, str], None]
"""(body, raw query string, the project's key) -> None; raises BadSignature (or BadBody)."""


@dataclass(frozen=True, slots=True)
class Signature:
    """How a network server signs its deliveries, and the project setting that holds the key. A project
    without the setting takes unsigned deliveries."""

    setting: str
    verify: Verifier


@dataclass(frozen=True, slots=True)
class Network:
    """A network server's webhook format: a pure parser, and optionally a signature to check."""

    name: str
    parse: Parser
    signature: Signature | None = None
    description: str = ""
    """One paragraph for people (the OpenAPI document's summary of its webhook)."""


def load_object(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise BadBody(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    if not body.strip():
        raise BadBody("body is empty; expected a JSON object")
    try:
        value = values.json_value(body)
    except orjson.JSONDecodeError as exc:
        raise BadBody(f"body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadBody(f"body must be a JSON object, got {type(value).__name__}")
    return value


def child(obj: dict[str, Any], name: str, where: str = "body") -> dict[str, Any]:
    value = obj.get(name)
    if not isinstance(value, dict):
        raise BadBody(f"{where}.{name} must be an object" if name in obj else f"{where}.{name} is missing")
    return value


def text(obj: dict[str, Any], name: str, where: str = "body", *, required: bool = True) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise BadBody(f"{where}.{name} is missing")
        return None
    if not isinstance(value, str):
        raise BadBody(f"{where}.{name} must be a string, got {type(value).__name__}")
    return value


def integer(
    obj: dict[str, Any], name: str, where: str = "body", *, lenient: bool = False, maximum: int = UINT32_MAX
) -> int | None:
    """An optional integer from 0 to `maximum` (LoRaWAN frame counters are 32-bit); with `lenient`, also a
    string of ASCII digits (older ThingPark)."""
    value = obj.get(name)
    if value is None:
        return None
    try:
        if lenient and isinstance(value, str):
            return values.integer(value, f"{where}.{name}", maximum=maximum)
        return values.within(value, f"{where}.{name}", maximum=maximum)
    except BadValue as exc:
        raise BadBody(str(exc)) from None


def hex_eui(value: str, where: str) -> str:
    if not _HEX_EUI.fullmatch(value):
        raise BadBody(f"{where} must be 16 hexadecimal digits, got {value!r}")
    return value.upper()


def eui_hex_or_base64(value: str, where: str) -> str:
    """ChirpStack v3 sends an EUI as hex (JSON_V3 marshaler) or as base64 of its 8 bytes (protobuf JSON)."""
    if _HEX_EUI.fullmatch(value):
        return value.upper()
    if len(value) == 12 and value.endswith("="):
        try:
            raw = values.base64_bytes(value, where)
        except BadValue:
            raw = b""
        if len(raw) == 8:
            return raw.hex().upper()
    raise BadBody(f"{where} must be 16 hexadecimal digits or the base64 of 8 bytes, got {value!r}")


def payload_base64(value: str, where: str) -> bytes:
    try:
        return _bounded(values.base64_bytes(value, where), where)
    except BadValue as exc:
        raise BadBody(str(exc)) from None


def payload_hex(value: str, where: str) -> bytes:
    try:
        return _bounded(values.hex_bytes(value, where), where)
    except BadValue as exc:
        raise BadBody(str(exc)) from None


def _bounded(raw: bytes, where: str) -> bytes:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise BadBody(f"{where} is {len(raw)} bytes; a LoRaWAN payload is at most {MAX_PAYLOAD_BYTES}")
    return raw


def iso_time_us(value: object, where: str) -> int | None:
    """RFC 3339 with up to nanoseconds, `Z` or an offset, to epoch microseconds; None when absent. Sub-
    microsecond digits are dropped: microseconds already keep two uplinks of one second apart."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadBody(f"{where} must be an RFC 3339 time string")
    match = _ISO.fullmatch(value.strip())
    if match is None:
        raise BadBody(f"{where} is not an RFC 3339 time: {value!r}")
    whole, fraction, zone = match.groups()
    try:
        stamp = datetime.fromisoformat(whole + ("+00:00" if zone in (None, "Z") else _colon(zone)))
        moment_us = int(stamp.timestamp()) * 1_000_000 + int(((fraction or "") + "000000")[:6])
        return values.time_us(moment_us, where)
    except BadValue as exc:
        raise BadBody(str(exc)) from None
    except ValueError:  # a date such as February 30th
        raise BadBody(f"{where} is not a valid time: {value!r}") from None


def _colon(zone: str) -> str:
    return zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
