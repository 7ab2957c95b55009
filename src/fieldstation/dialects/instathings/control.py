"""Control: `set` commands kept for the gateway link, `status` requests and their polling.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from fieldstation.core.errors import NotFound
from fieldstation.core.values import json_value
from fieldstation.dialects.instathings import render
from fieldstation.dialects.instathings.access import Caller, by_id, device_of
from fieldstation.dialects.instathings.errors import InstathingsError
from fieldstation.http.responses import JsonResponse

router = APIRouter()


@router.post("/device/v1/control/{device_id}/set")
async def control(device_id: str, request: Request, ctx: Caller) -> Response:
    hub, project = ctx
    device = await device_of(hub, project, device_id)
    operation = await hub.operations.control(project, device, await _control_request(request))
    await hub.gateways.deliver(project, device, operation)
    return JsonResponse({})


@router.post("/device/v1/control/{device_id}/status", status_code=202)
async def status(device_id: str, request: Request, ctx: Caller) -> Response:
    hub, project = ctx
    device = await device_of(hub, project, device_id)
    operation = await hub.operations.request_status(project, device, await _control_request(request))
    if not device.is_virtual:
        await hub.gateways.deliver(project, device, operation)
    location = f"{request.scope.get('root_path', '')}/device/v1/control/{operation.short_id}/fetch"
    return JsonResponse({}, status_code=202, headers={"Location": location})


@router.get("/device/v1/control/{request_id}/fetch")
async def fetch(request_id: str, ctx: Caller) -> Response:
    hub, project = ctx
    try:
        operation = await hub.operations.fetch(project, request_id)
    except NotFound as exc:
        raise InstathingsError(404, f"Request {request_id} not found.") from exc
    devices = await by_id(hub, project)
    device = devices[operation.device_id]
    if operation.answered_us is not None:
        return JsonResponse(render.operation_object(operation, device, project))
    if hub.operations.timed_out(operation):
        return JsonResponse(
            {"id": request_id, "status": "timeout", "message": "The device did not answer in time."},
            status_code=504,
        )
    return JsonResponse(
        {
            "id": request_id,
            "status": "pending",
            "message": "The device has not answered yet: poll again.",
        },
        status_code=202,
    )


async def _control_request(request: Request) -> dict[str, Any]:
    """What goes down to the device: the JSON body as is, the query parameters, and for HTTP devices the
    path and method to call on them."""
    raw = await request.body()  # its size was bounded at the front door
    body: Any = None
    if raw.strip():
        try:
            body = json_value(raw)
        except orjson.JSONDecodeError:
            raise InstathingsError(
                400, "The body must be JSON; it is forwarded to the device as is."
            ) from None
    return {
        "body": body,
        "query": dict(request.query_params),
        "path": request.headers.get("instathings-path"),
        "method": request.headers.get("instathings-method"),
    }
