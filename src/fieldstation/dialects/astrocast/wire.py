"""Astrocast's wire details: ISO 8601 `Z` out, CSV. Dates in are read as the callbacks' are
(`networks.astrocast.parse_date`)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldstation.core.values import MAX_TIME_US, MIN_TIME_US
from fieldstation.networks.astrocast import BadDate, parse_date

__all__ = ["BadDate", "csv_rows", "csv_stream", "format_date", "format_day", "parse_date"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
