"""A real Astrocast account's push callbacks, so that fieldstation can stand between the vendor and its
users: `POST .../callbacks/{project}/messages` takes the uplink callback body, `.../commands` the command
acknowledgement callback body (`specs/astrocast.md`; the bodies are parsed by `networks.astrocast`).

The vendor sends custom headers configured per device group; the project's operator chooses a header and a
secret (`fieldstation project configure NAME --astrocast-callback-secret S [--astrocast-callback-header H]`)
and enters the same in the Astrocast portal. The answer is 200 only once the message is stored, and a
message delivered again (the vendor retries on anything but 200) is stored once: its messageGuid is the
reading's id.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

import hmac
from collections.abc import Callable
from typing import TypeVar

from fastapi import FastAPI, Request
from starlette.responses import Response

from fieldstation.core.errors import AlreadyExists, NotFound
from fieldstation.core.hashing import key_digest
from fieldstation.core.hub import Hub
from fieldstation.core.models import Device, NewDevice, Project
from fieldstation.http.responses import JsonResponse
from fieldstation.intake.refusals import Refusal, Refused
from fieldstation.networks import BadBody, astrocast

T = TypeVar("T")
HEADER_SETTING = "astrocast_callback_header"
SECRET_SETTING = "astrocast_callback_secret_sha256"
DEFAULT_HEADER = "X-Callback-Secret"
CALLBACK_REFUSED = (
    "Callback refused: the project's callback secret header is missing or wrong "
    "(fieldstation project configure NAME --astrocast-callback-secret)."
)


def add_routes(app: FastAPI, hub_ref: Callable[[], Hub]) -> None:
    """The two callback routes, on the serving API's app; it renders `Refused` in its own words."""

    @app.post("/callbacks/{project_name}/messages")
    async def message_callback(project_name: str, request: Request) -> Response:
        """The vendor's uplink callback."""
        hub = hub_ref()
        project = await _project(hub, request, project_name)
        raw = await request.body()
        message = _parsed(astrocast.parse_message, raw)
        device = await _device(hub, project, message.device_guid)
        stored = await hub.ingestor.submit(device, astrocast.message_uplink(message, raw))
        return JsonResponse(
            {"messageGuid": message.message_guid, "stored": True, "duplicate": stored.duplicate}
        )

    @app.post("/callbacks/{project_name}/commands")
    async def acknowledgement_callback(project_name: str, request: Request) -> Response:
        """The vendor's command acknowledgement callback."""
        hub = hub_ref()
        project = await _project(hub, request, project_name)
        acknowledgement = _parsed(astrocast.parse_acknowledgement, await request.body())
        try:
            command = await hub.commands.acknowledge(
                project,
                acknowledgement.command_guid,
                received_us=acknowledgement.received_us,
                acknowledged_us=acknowledgement.acknowledged_us,
            )
        except NotFound as exc:
            raise Refused(Refusal.NOT_FOUND, f"Command {acknowledgement.command_guid} not found.") from exc
        return JsonResponse({"commandGuid": command.guid, "commandStatus": int(command.status)})


async def _project(hub: Hub, request: Request, name: str) -> Project:
    """The project whose callback secret the request carries. An unknown project is refused exactly as a
    wrong secret is, so that project names cannot be found out by trying them."""
    try:
        project: Project | None = await hub.projects.get(name)
    except NotFound:
        project = None
    settings = {} if project is None else project.settings
    expected = settings.get(SECRET_SETTING)
    given = request.headers.get(settings.get(HEADER_SETTING, DEFAULT_HEADER))
    if project is None or not expected or given is None:
        raise Refused(Refusal.UNAUTHORIZED, CALLBACK_REFUSED)
    if not hmac.compare_digest(key_digest(given), expected):
        raise Refused(Refusal.UNAUTHORIZED, CALLBACK_REFUSED)
    return project


def _parsed(parse: Callable[[bytes], T], body: bytes) -> T:
    try:
        return parse(body)
    except BadBody as exc:
        raise Refused(Refusal.MALFORMED, str(exc)) from exc


async def _device(hub: Hub, project: Project, device_guid: str) -> Device:
    device = await hub.devices.by_guid(project, device_guid)
    if device is not None:
        return device
    if not project.auto_register:
        raise Refused(
            Refusal.UNKNOWN_DEVICE,
            f"Device {device_guid} not found; add it with `fieldstation device add --guid`.",
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
