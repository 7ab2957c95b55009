"""Intake of a real Astrocast account's push callbacks, so that fieldstation can stand between the vendor
and its users: `POST /astrocast/v1/callbacks/{project}/messages` takes the uplink callback body,
`.../commands` the command acknowledgement callback body (`specs/astrocast.md`).

The vendor sends custom headers configured per device group; the project's operator chooses a header and a
secret (`fieldstation project configure NAME --astrocast-callback-secret S [--astrocast-callback-header H]`)
and enters the same in the Astrocast portal. The answer is 200 only once the message is stored, and a
message delivered again (the vendor retries on anything but 200) is stored once: its messageGuid is the
reading's id.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

import hmac
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from fieldstation.core import values
from fieldstation.core.errors import AlreadyExists, NotFound
from fieldstation.core.hashing import key_digest
from fieldstation.core.hub import Hub
from fieldstation.core.models import NewDevice, NewUplink, Project
from fieldstation.dialects.astrocast.errors import AstrocastError, checked, json_object
from fieldstation.dialects.astrocast.wire import BadDate, parse_date
from fieldstation.http.responses import JsonResponse

HEADER_SETTING = "astrocast_callback_header"
SECRET_SETTING = "astrocast_callback_secret_sha256"
DEFAULT_HEADER = "X-Callback-Secret"
MAX_USER_DATA = 160
CALLBACK_REFUSED = (
    "Callback refused: the project's callback secret header is missing or wrong "
    "(fieldstation project configure NAME --astrocast-callback-secret)."
)


def add_routes(app: FastAPI, hub_ref: Callable[[], Hub]) -> None:
    async def project_for(request: Request, name: str) -> Project:
        """The project whose callback secret the request carries. An unknown project is refused exactly as
        a wrong secret is, so that project names cannot be found out by trying them."""
        hub = hub_ref()
        try:
            project = await hub.projects.get(name)
        except NotFound:
            project = None
        settings = {} if project is None else project.settings
        expected = settings.get(SECRET_SETTING)
        header = settings.get(HEADER_SETTING, DEFAULT_HEADER)
        given = request.headers.get(header)
        if project is None or not expected or given is None:
            raise AstrocastError(401, CALLBACK_REFUSED)
        if not hmac.compare_digest(key_digest(given), expected):
            raise AstrocastError(401, CALLBACK_REFUSED)
        return project

    @app.post("/callbacks/{project_name}/messages")
    async def message_callback(project_name: str, request: Request) -> Response:
        """The vendor's uplink callback."""
        hub = hub_ref()
        project = await project_for(request, project_name)
        raw = await request.body()
        body = json_object(raw)
        message_guid = _guid(body, "messageGuid")
        device_guid = _guid(body, "deviceGuid")
        payload = _user_data(body)
        received_us = _date(body, "receivedDate", required=True)
        created_us = _date(body, "createdDate", required=False)
        position = _position(body)
        device = await _device(hub, project, device_guid)
        uplink = NewUplink(
            source="astrocast",
            payload=payload,
            received_us=received_us or hub.clock.now_us(),
            raw=raw,
            meta={"deviceGroupGuid": body.get("deviceGroupGuid")},
            device_time_us=created_us,
            position=position,
            uid=message_guid,
        )
        stored = await hub.ingestor.submit(device, uplink)
        return JsonResponse({"messageGuid": message_guid, "stored": True, "duplicate": stored.duplicate})

    @app.post("/callbacks/{project_name}/commands")
    async def acknowledgement_callback(project_name: str, request: Request) -> Response:
        """The vendor's command acknowledgement callback."""
        hub = hub_ref()
        project = await project_for(request, project_name)
        body = json_object(await request.body())
        command_guid = _guid(body, "commandGuid")
        try:
            command = await hub.commands.acknowledge(
                project,
                command_guid,
                received_us=_date(body, "receivedDate", required=False),
                acknowledged_us=_date(body, "ackReceivedDate", required=False),
            )
        except NotFound as exc:
            raise AstrocastError(404, f"Command {command_guid} not found.") from exc
        return JsonResponse({"commandGuid": command.guid, "commandStatus": int(command.status)})


async def _device(hub: Hub, project: Project, device_guid: str) -> Any:
    device = await hub.devices.by_guid(project, device_guid)
    if device is not None:
        return device
    if not project.auto_register:
        raise AstrocastError(
            404, f"Device {device_guid} not found; add it with `fieldstation device add --guid`."
        )
    new = NewDevice(
        name=f"Astronode {device_guid[:8]}", guid=device_guid, device_type="Astronode", codec="passthrough"
    )
    try:
        return await hub.devices.add(project, new)
    except AlreadyExists:
        raced = await hub.devices.by_guid(project, device_guid)
        if raced is None:
            raise
        return raced  # a concurrent callback of the same modem registered it first


def _guid(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else _missing(name)
    except ValueError:
        raise AstrocastError(400, f"{name} is not a GUID: {value!r}.") from None


def _missing(name: str) -> str:
    raise AstrocastError(400, f"{name} is missing.")


def _date(body: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise AstrocastError(400, f"{name} is missing.")
        return None
    if not isinstance(value, str):
        raise AstrocastError(400, f"{name} must be a date string.")
    try:
        return parse_date(value)
    except BadDate:
        raise AstrocastError(400, f"{name} is not a date: {value!r}.") from None


def _user_data(body: dict[str, Any]) -> bytes:
    value = body.get("data", "")
    if not isinstance(value, str):
        raise AstrocastError(400, "data must be base64 text.")
    payload = checked(values.base64_bytes, value, "data")
    if len(payload) > MAX_USER_DATA:
        raise AstrocastError(
            400, f"data is {len(payload)} bytes; Astrocast user data is at most {MAX_USER_DATA}."
        )
    size = body.get("messageSize")
    if isinstance(size, int) and not isinstance(size, bool) and size != len(payload):
        raise AstrocastError(400, f"messageSize says {size} bytes but data holds {len(payload)}.")
    return payload


def _position(body: dict[str, Any]) -> tuple[float, float] | None:
    latitude, longitude = body.get("latitude"), body.get("longitude")
    if latitude is None or longitude is None:
        return None
    ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (latitude, longitude))
    if not ok or abs(latitude) > 90 or abs(longitude) > 180:
        raise AstrocastError(400, f"latitude and longitude must be degrees, got {latitude!r}, {longitude!r}.")
    return float(latitude), float(longitude)
