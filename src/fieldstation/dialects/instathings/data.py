"""A device's data pages and a container's log lines.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from fieldstation.core import values
from fieldstation.core.values import MAX_TIME_MS
from fieldstation.dialects.instathings import render
from fieldstation.dialects.instathings.access import Caller, device_of
from fieldstation.dialects.instathings.errors import InstathingsError, checked
from fieldstation.http.params import query_parameters
from fieldstation.http.responses import JsonResponse

MAX_PER_PAGE = 100
MILLIS = "Epoch milliseconds."
DataQuery = Annotated[
    dict[str, str],
    Depends(
        query_parameters(
            start=MILLIS, end=MILLIS, page="From 1.", perPage=f"From 1 to {MAX_PER_PAGE}; default 10."
        )
    ),
]
LogQuery = Annotated[dict[str, str], Depends(query_parameters(start=MILLIS, end=MILLIS))]


router = APIRouter()


@router.get("/device/v1/devices/{device_id}/data")
async def data(device_id: str, ctx: Caller, query: DataQuery) -> Response:
    """The device's records, newest first, a page at a time."""
    hub, project = ctx
    device = await device_of(hub, project, device_id)
    start, end = _millis(query.get("start"), "start"), _millis(query.get("end"), "end")
    page = _integer(query.get("page"), "page", 1, 10**9, default=1)
    per_page = _integer(query.get("perPage"), "perPage", 1, MAX_PER_PAGE, default=10)
    rows, total = await hub.readings.device_page(
        device,
        None if start is None else start * 1000,
        None if end is None else end * 1000 + 999,
        (page - 1) * per_page,
        per_page,
    )
    records = [render.data_record(reading, meta, device, project) for reading, meta in rows]
    return JsonResponse({"data": records, "totalItems": total})


@router.get("/device/v1/devices/{device_id}/{container_id}/logs")
async def logs(device_id: str, container_id: str, ctx: Caller, query: LogQuery) -> Response:
    """A container's log lines; `start` and `end` together, or neither."""
    hub, project = ctx
    device = await device_of(hub, project, device_id)
    start, end = _millis(query.get("start"), "start"), _millis(query.get("end"), "end")
    if (start is None) != (end is None):
        raise InstathingsError(400, "start and end must be given together (epoch milliseconds), or neither.")
    lines = await hub.operations.logs(
        device,
        container_id,
        None if start is None else start * 1000,
        None if end is None else end * 1000,
        10_000,
    )
    return JsonResponse(
        [
            {
                "timestamp": line.logged_us // 1000,
                "type": line.kind,
                "message": line.message,
                "ingestionTime": line.ingested_us // 1000,
            }
            for line in lines
        ]
    )


def _millis(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    return checked(values.integer, value, f"{name} (epoch milliseconds)", maximum=MAX_TIME_MS)


def _integer(value: str | None, name: str, low: int, high: int, *, default: int) -> int:
    if value in (None, ""):
        return default
    return checked(values.integer, value, name, minimum=low, maximum=high)
