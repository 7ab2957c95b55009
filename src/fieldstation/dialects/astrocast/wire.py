"""Astrocast's wire details: lenient dates in, ISO 8601 `Z` out, CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldstation.core import values
from fieldstation.core.clock import MICROS
from fieldstation.core.values import MAX_TIME_US, MIN_TIME_US, BadValue

_DATE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$",
    re.ASCII,
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
        try:
            moment -= sign * timedelta(hours=hours, minutes=minutes)
        except OverflowError as exc:  # an offset that takes the instant out of years 1..9999
            raise BadDate(value) from exc
    micros = int(((fraction or "") + "000000")[:6])
    try:
        return values.time_us(int((moment - EPOCH).total_seconds()) * MICROS + micros, "date")
    except BadValue as exc:
        raise BadDate(value) from exc


def format_date(value_us: int | None) -> str | None:
    """ISO 8601 UTC with `Z`; milliseconds only when there are some. An instant that ISO 8601 cannot
    write (stored before the hub refused such times) is null rather than a failed listing."""
    if value_us is None or not MIN_TIME_US <= value_us <= MAX_TIME_US:
        return None
    moment = EPOCH + timedelta(microseconds=value_us)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = (value_us // 1000) % 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def format_day(value_us: int) -> str | None:
    if not MIN_TIME_US <= value_us <= MAX_TIME_US:
        return None
    return (EPOCH + timedelta(microseconds=value_us)).strftime("%Y-%m-%d")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def csv_rows(fields: Sequence[str], objects: Iterable[dict[str, Any]], *, header: bool) -> str:
    """RFC 4180: comma separated, CRLF line ends, quoted where needed; a header row of the JSON names."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(fields)
    writer.writerows([_cell(obj[name]) for name in fields] for obj in objects)
    return buffer.getvalue()


async def csv_stream(
    fields: Sequence[str], chunks: AsyncIterator[list[dict[str, Any]]]
) -> AsyncIterator[bytes]:
    yield csv_rows(fields, [], header=True).encode()
    async for chunk in chunks:
        yield csv_rows(fields, chunk, header=False).encode()
