"""Values as they enter the hub, checked in one place for every dialect and intake: integers of ASCII digits
within the range their column holds, times between 1970 and 9999 (UTC), text without control characters,
base64 and hex of ASCII characters. Each check raises `BadValue` with a sentence that names the value and
says what is wrong; the dialect renders it in its own error shape.

Why so strict: Python's own parsers are generous in ways a store is not. `str.isdigit()` accepts `²` and
`٣`, `int()` accepts `" 1_0 "` and Arabic-Indic digits, `"--5".lstrip("-")` is digits, `base64.b64decode`
raises a plain `ValueError` for non-ASCII text, and a time of `9999-12-31T23:59:59-01:00` is a valid RFC
3339 string whose UTC instant no ISO 8601 renderer can print. Anything accepted here is something every
view can store and render."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from fieldstation.core.errors import InvalidInput

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1
MIN_TIME_US = 0
"""1970-01-01T00:00:00Z: the epoch; nothing the hub keeps happened before it."""
MAX_TIME_US = 253_402_300_799_999_999
"""9999-12-31T23:59:59.999999Z, the last instant ISO 8601 (and so Astrocast's dates) can write."""
MAX_TIME_S = MAX_TIME_US // 1_000_000
MAX_TIME_MS = MAX_TIME_US // 1_000
ORJSON_WRITE_DEPTH = 254
"""orjson reads JSON nested 1,024 levels deep but writes only 254 (its `Recursion limit reached`)."""
VIEW_NESTING = 14
"""Levels the views may wrap a stored value in (an Instathings data page, a WebSocket event, a GeoJSON
feature, the workers' event bus: 3 to 6 today), kept free under orjson's limit."""
MAX_JSON_DEPTH = ORJSON_WRITE_DEPTH - VIEW_NESTING

_ASCII_INTEGER = re.compile(r"-?[0-9]{1,19}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadValue(InvalidInput):
    """A value that the hub cannot take; the message names it and says what would be right."""


def integer(text: str, name: str, *, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    """An integer written in ASCII digits, with a minus sign only where `minimum` is negative."""
    if not _ASCII_INTEGER.fullmatch(text) or (text.startswith("-") and minimum >= 0):
        kind = "an integer" if minimum < 0 else "a non-negative integer"
        raise BadValue(f"{name} must be {kind} in ASCII digits, got {text[:40]!r}")
    return within(int(text), name, minimum=minimum, maximum=maximum)


def within(number: int, name: str, *, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    """An integer (already parsed, e.g. from JSON) within [minimum, maximum]."""
    if isinstance(number, bool) or not isinstance(number, int):
        raise BadValue(f"{name} must be an integer, got {type(number).__name__}")
    if not minimum <= number <= maximum:
        raise BadValue(f"{name} must be between {minimum} and {maximum}, got {_short(number)}")
    return number


def time_us(value_us: int, name: str) -> int:
    """An instant in epoch microseconds between 1970 and the end of year 9999 (UTC)."""
    if not MIN_TIME_US <= value_us <= MAX_TIME_US:
        raise BadValue(
            f"{name} must fall between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z (in UTC), "
            f"got {_moment(value_us)}"
        )
    return value_us


def text(value: str, name: str, *, max_length: int, allow_empty: bool = False) -> str:
    """One line of text: no control characters (NUL, escapes, line breaks), at most `max_length` long."""
    if not allow_empty and not value.strip():
        raise BadValue(f"{name} must not be empty")
    if len(value) > max_length:
        raise BadValue(f"{name} must be at most {max_length} characters, got {len(value)}")
    if _CONTROL_OR_BREAK.search(value):
        raise BadValue(f"{name} must not contain control characters or line breaks")
    return value


def clean_text(value: str, name: str) -> str:
    """Free text that may span lines (tabs and line breaks allowed), without other control characters."""
    if _CONTROL.search(value):
        raise BadValue(f"{name} must not contain control characters such as NUL")
    return value


def base64_bytes(value: str, name: str) -> bytes:
    """Standard base64 (padded), ASCII only."""
    if not value.isascii():
        raise BadValue(f"{name} is not valid base64: it holds non-ASCII characters")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise BadValue(f"{name} is not valid base64") from None


def hex_bytes(value: str, name: str) -> bytes:
    """Hexadecimal digits (either case; spaces between bytes allowed), ASCII only."""
    if not value.isascii():
        raise BadValue(f"{name} is not valid hexadecimal: it holds non-ASCII characters")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise BadValue(f"{name} is not valid hexadecimal") from None


def _moment(value_us: int) -> str:
    try:
        return (_EPOCH + timedelta(microseconds=value_us)).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OverflowError:
        return f"{_short(value_us)} microseconds from the epoch"


def _short(number: int) -> str:
    digits = str(number)
    return digits if len(digits) <= 24 else f"{digits[:10]}...({len(digits)} digits)"


def json_value(raw: bytes | str) -> Any:
    """JSON from outside, parsed as orjson parses it, and refused like malformed JSON
    (`orjson.JSONDecodeError`) if it nests deeper than `MAX_JSON_DEPTH`: the hub stores what it takes as
    JSON again and its views wrap it further, and a value it could read but not write would pass every
    check and then fail the write (a 500, and a group commit split to find it) or every listing and event
    that shows it."""
    value = orjson.loads(raw)
    if isinstance(value, dict | list):
        wrapped: Any = value
        for _ in range(VIEW_NESTING):  # as deep as the deepest view will write it
            wrapped = [wrapped]
        try:
            orjson.dumps(wrapped)  # under 1 µs for a 1 KiB webhook body: cheaper than walking it
        except orjson.JSONEncodeError:
            raise NestedTooDeep(f"nested deeper than {MAX_JSON_DEPTH} levels", "", 0) from None
    return value


class NestedTooDeep(orjson.JSONDecodeError):
    """JSON the hub could read but not write back; a decode error to its callers, whose message has no
    position (the depth is the whole document's)."""

    def __str__(self) -> str:
        return str(self.msg)
