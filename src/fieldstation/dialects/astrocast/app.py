"""The Astrocast Pull API routes. Every list answers a bare array, as JSON (default) or CSV (`Accept:
text/csv`), streamed.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from starlette.responses import Response, StreamingResponse

from fieldstation.core import values
from fieldstation.core.commands import CommandFilter
from fieldstation.core.errors import InvalidInput, NotFound, Unauthorized
from fieldstation.core.hub import Hub
from fieldstation.core.models import CommandStatus, CredentialKind, Device, Project
from fieldstation.core.ports import UplinkFilter
from fieldstation.core.values import BadValue
from fieldstation.dialects.astrocast import render
from fieldstation.dialects.astrocast.description import DESCRIPTION
from fieldstation.dialects.astrocast.errors import AstrocastError, checked, install, json_object
from fieldstation.dialects.astrocast.wire import BadDate, csv_rows, csv_stream, parse_date
from fieldstation.http import api_docs, openapi
from fieldstation.http.params import query_parameters
from fieldstation.http.responses import JsonResponse, json_array_stream
from fieldstation.intake import astrocast as astrocast_callbacks

CSV = "text/csv"
COMMAND_SIZES = (8, 40)
"""Astrocast downlink user data is 8 or 40 bytes."""
MAX_REFERENCE = 256
MAX_COUNT = 10**12
"""limit and offset: far beyond any page, well within the store's integers."""
MAINTENANCE = "maintenance"


def create_app(hub_ref: Callable[[], Hub]) -> FastAPI:
    app = FastAPI(
        title="fieldstation: Astrocast Pull API",
        description="Wire-compatible with https://api.astrocast.com/v1",
        docs_url=None,
        openapi_url="/openapi.json",
    )
    api_docs.install(app)
    openapi.describe(app, DESCRIPTION)
    install(app)

    async def caller(request: Request) -> tuple[Hub, Project]:
        hub = hub_ref()
        try:
            credential = await hub.auth.key(CredentialKind.ASTROCAST, request.headers.get("x-api-key"))
        except Unauthorized as exc:
            raise AstrocastError(
                401, "The API key is missing, unknown or revoked (header x-api-key)."
            ) from exc
        project = await hub.projects.by_id(credential.project_id)
        if project.settings.get(MAINTENANCE):
            raise AstrocastError(503, "The service is in maintenance.")
        return hub, project

    Caller = Annotated[tuple[Hub, Project], Depends(caller)]

    async def device_by_guid(hub: Hub, project: Project, guid: str) -> Device:
        device = await hub.devices.by_guid(project, guid.strip())
        if device is None:
            raise AstrocastError(404, f"Device {guid} not found.")
        return device

    @app.get("/messages")
    @app.get("/messages/", include_in_schema=False)
    async def messages(request: Request, ctx: Caller, query: MessageQuery) -> Response:
        """Messages, oldest first; JSON, or CSV with `Accept: text/csv`."""
        hub, project = ctx
        guid = query.get("deviceGuid")
        device = await device_by_guid(hub, project, guid) if guid else None
        where = UplinkFilter(
            project_id=project.id,
            device_id=None if device is None else device.id,
            received_since_us=_date(query, "startReceivedDate"),
            received_until_us=_date(query, "endReceivedDate"),
            created_since_us=_date(query, "startCreatedDate"),
            created_until_us=_date(query, "endCreatedDate"),
            limit=_count(query, "limit"),
            offset=_count(query, "offset") or 0,
        )
        chunks = hub.readings.uplinks(where)
        if _wants_csv(request):
            return _csv(render.MESSAGE_FIELDS, _mapped(chunks, render.message_object))
        return json_array_stream(_json_chunks(chunks, render.message_object))

    @app.get("/devices")
    async def devices(request: Request, ctx: Caller) -> Response:
        hub, project = ctx
        activity = await hub.readings.activity(project)
        objects = [render.device_object(d, activity[d.id]) for d in await hub.devices.list(project)]
        return _listing(request, render.DEVICE_FIELDS, objects)

    @app.get("/devices/summary")
    async def summary(request: Request, ctx: Caller, query: SummaryQuery) -> Response:
        """Per device and day (UTC): messages and commands, their count and bytes."""
        hub, project = ctx
        guid = query.get("deviceGuid")
        device = await device_by_guid(hub, project, guid) if guid else None
        by_id = {d.id: d for d in await hub.devices.list(project)}
        usage = await hub.readings.daily_usage(
            project, device, _date(query, "startDate"), _date(query, "endDate")
        )
        objects = [render.summary_object(day, by_id[day.device_id], project) for day in usage]
        return _listing(request, render.SUMMARY_FIELDS, objects)

    @app.get("/devices/{device_guid}")
    async def device(device_guid: str, ctx: Caller) -> Response:
        hub, project = ctx
        found = await device_by_guid(hub, project, device_guid)
        activity = await hub.readings.activity(project)
        return JsonResponse(render.device_object(found, activity[found.id]))

    @app.get("/enums/devicetypes")
    async def device_types(request: Request, _: Caller) -> Response:
        return _listing(request, render.DEVICE_TYPE_FIELDS, render.device_type_objects())

    @app.post("/commands")
    async def create_command(request: Request, ctx: Caller) -> Response:
        hub, project = ctx
        body = json_object(await request.body())
        guid = body.get("deviceGuid")
        if not isinstance(guid, str) or not guid:
            raise AstrocastError(400, "deviceGuid is required: the GUID of the device to command.")
        data = _command_data(body.get("data"))
        reference = body.get("commandReference")
        if reference is not None and not isinstance(reference, str):
            raise AstrocastError(
                400, f"commandReference must be a string of at most {MAX_REFERENCE} characters."
            )
        if reference is not None:
            checked(values.text, reference, "commandReference", max_length=MAX_REFERENCE, allow_empty=True)
        expiration = body.get("expirationDate")
        if expiration is not None and not isinstance(expiration, str):
            raise AstrocastError(400, "expirationDate must be a date string such as 2026-12-01T00:00:00Z.")
        expires_us = None if expiration is None else _parse(expiration, "expirationDate")
        target = await device_by_guid(hub, project, guid)
        try:
            command = await hub.commands.create(
                project, target, data, reference=reference, expires_us=expires_us
            )
        except InvalidInput as exc:
            raise AstrocastError(400, f"{exc}.") from exc
        return JsonResponse(render.command_object(command))

    @app.get("/commands")
    async def list_commands(request: Request, ctx: Caller, query: CommandQuery) -> Response:
        """Commands, newest first."""
        hub, project = ctx
        guid = query.get("deviceGuid")
        target = await device_by_guid(hub, project, guid) if guid else None
        where = CommandFilter(
            device_id=None if target is None else target.id,
            status=_status(query.get("commandStatus")),
            since_us=_date(query, "startCreatedDate"),
            until_us=_date(query, "endCreatedDate"),
        )
        objects = [render.command_object(c) for c in await hub.commands.list(project, where)]
        return _listing(request, render.COMMAND_FIELDS, objects)

    @app.get("/commands/{command_guid}")
    async def get_command(command_guid: str, ctx: Caller) -> Response:
        hub, project = ctx
        try:
            return JsonResponse(render.command_object(await hub.commands.get(project, command_guid)))
        except NotFound as exc:
            raise AstrocastError(404, f"Command {command_guid} not found.") from exc

    @app.delete("/commands/{command_guid}")
    async def cancel_command(command_guid: str, ctx: Caller) -> Response:
        hub, project = ctx
        try:
            return JsonResponse(render.command_object(await hub.commands.cancel(project, command_guid)))
        except NotFound as exc:
            raise AstrocastError(404, f"Command {command_guid} not found.") from exc
        except InvalidInput as exc:
            raise AstrocastError(400, f"{exc}.") from exc

    astrocast_callbacks.add_routes(app, hub_ref)
    return app


DATE = "A date: 2022-08-01T01:00:00Z, 2022-08-01, or with an offset; naive means UTC."
DEVICE = "Only this device's (its deviceGuid)."
MessageQuery = Annotated[
    dict[str, str],
    Depends(
        query_parameters(
            deviceGuid=DEVICE,
            startReceivedDate=DATE,
            endReceivedDate=DATE,
            startCreatedDate=DATE,
            endCreatedDate=DATE,
            limit="How many messages at most.",
            offset="How many messages to skip.",
        )
    ),
]
SummaryQuery = Annotated[
    dict[str, str], Depends(query_parameters(deviceGuid=DEVICE, startDate=DATE, endDate=DATE))
]
CommandQuery = Annotated[
    dict[str, str],
    Depends(
        query_parameters(
            deviceGuid=DEVICE,
            commandStatus="0 pending, 1 sent, 2 failed, 3 cancelled, 4 acknowledged, 5 expired.",
            startCreatedDate=DATE,
            endCreatedDate=DATE,
        )
    ),
]


def _wants_csv(request: Request) -> bool:
    return CSV in request.headers.get("accept", "").lower()


def _listing(request: Request, fields: Sequence[str], objects: list[dict[str, Any]]) -> Response:
    if _wants_csv(request):
        return Response(csv_rows(fields, objects, header=True), media_type=f"{CSV}; charset=utf-8")
    return JsonResponse(objects)


def _csv(fields: Sequence[str], chunks: AsyncIterator[list[dict[str, Any]]]) -> StreamingResponse:
    return StreamingResponse(csv_stream(fields, chunks), media_type=f"{CSV}; charset=utf-8")


async def _mapped(
    chunks: AsyncIterator[list[Any]], render_one: Callable[[Any], dict[str, Any]]
) -> AsyncIterator[list[dict[str, Any]]]:
    async for chunk in chunks:
        yield [render_one(item) for item in chunk]


async def _json_chunks(
    chunks: AsyncIterator[list[Any]], render_one: Callable[[Any], dict[str, Any]]
) -> AsyncIterator[list[str]]:
    async for chunk in chunks:
        yield [orjson.dumps(render_one(item)).decode() for item in chunk]


def _parse(value: str, name: str) -> int:
    try:
        return parse_date(value)
    except BadDate:
        raise AstrocastError(
            400,
            f"{name} is not a date: {value!r}. Use ISO 8601, such as 2022-08-01T01:00:00Z (naive means UTC).",
        ) from None


def _date(query: Any, name: str) -> int | None:
    value = query.get(name)
    return None if value in (None, "") else _parse(value, name)


def _count(query: Any, name: str) -> int | None:
    value = query.get(name)
    return None if value in (None, "") else checked(values.integer, value, name, maximum=MAX_COUNT)


def _status(value: str | None) -> CommandStatus | None:
    if value in (None, ""):
        return None
    known = ", ".join(f"{s.value} ({s.name.lower()})" for s in CommandStatus)
    try:
        return CommandStatus(values.integer(value, "commandStatus", maximum=max(CommandStatus)))
    except (BadValue, ValueError):
        raise AstrocastError(400, f"commandStatus must be one of {known}; got {value!r}.") from None


def _command_data(value: object) -> bytes:
    if not isinstance(value, str):
        raise AstrocastError(400, "data is required: the command's bytes in base64.")
    data = checked(values.base64_bytes, value, "data")
    if len(data) not in COMMAND_SIZES:
        raise AstrocastError(400, f"data is {len(data)} bytes; an Astrocast command is 8 or 40 bytes.")
    return data
