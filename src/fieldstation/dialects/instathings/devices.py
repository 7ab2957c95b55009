"""Devices and gateways: list, create, read, change, delete, sub-devices, a gateway's certificate.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from fieldstation.core import values
from fieldstation.core.errors import AlreadyExists, InvalidInput
from fieldstation.core.hub import Hub
from fieldstation.core.models import NewDevice, Project
from fieldstation.dialects.instathings import bundle, catalogue, render
from fieldstation.dialects.instathings.access import Caller, by_id, device_of, read_json
from fieldstation.dialects.instathings.errors import InstathingsError, checked
from fieldstation.http.responses import JsonResponse
from fieldstation.link.topics import ENV_SETTING

MAX_NAME = 20
MIN_FREQUENCY_S = 30
MAX_FREQUENCY_S = 30 * 86_400
"""A virtual device produces at least once in 30 days (docs/instathings.md)."""
BROKER_SETTING = "instathings_broker"
DEFAULT_BROKER_PORT = 8883
MAX_PARAMETERS_BYTES = 4096

router = APIRouter()


@router.get("/device/v1/devices")
async def list_devices(ctx: Caller) -> Response:
    hub, project = ctx
    devices = await by_id(hub, project)
    return JsonResponse([render.device_object(d, project, devices) for d in devices.values()])


@router.post("/device/v1/devices", status_code=201)
async def create_device(request: Request, ctx: Caller) -> Response:
    hub, project = ctx
    body = await read_json(request)
    new = await _new_device(hub, project, body)
    try:
        device = await hub.devices.add(project, new)
    except (InvalidInput, AlreadyExists) as exc:
        raise InstathingsError(400, f"{exc}.") from exc
    if device.parent_id is not None:
        # The gateway reports discovering, then paired or not_paired, as WebSocket events.
        await hub.gateways.pair(project, device, catalogue.TYPES.get(device.type_id or ""))
    return JsonResponse(render.device_object(device, project, await by_id(hub, project)), status_code=201)


@router.get("/device/v1/devices/{device_id}")
async def get_device(device_id: str, ctx: Caller) -> Response:
    hub, project = ctx
    device = await device_of(hub, project, device_id)
    return JsonResponse(render.device_object(device, project, await by_id(hub, project), expand=True))


@router.patch("/device/v1/devices/{device_id}")
async def patch_device(device_id: str, request: Request, ctx: Caller) -> Response:
    hub, project = ctx
    device = await device_of(hub, project, device_id)
    changes = _patch(await read_json(request))
    if changes.get("demo_active") and not device.is_virtual:
        raise InstathingsError(400, "demoActive applies to virtual devices only.")
    if changes:
        if changes.get("demo_active") or "frequency_s" in changes:
            changes["virtual_next_us"] = None  # start the new schedule now
        await hub.devices.update(device, **changes)
    return JsonResponse({})


@router.delete("/device/v1/devices/{device_id}")
async def delete_device(device_id: str, ctx: Caller) -> Response:
    hub, project = ctx
    device = await device_of(hub, project, device_id)
    await hub.gateways.unpair(project, device)
    await hub.devices.delete(device)
    return JsonResponse({})


@router.delete("/devices/{parent_id}/subDevice/subDevices/{device_id}")
async def delete_sub_device(parent_id: str, device_id: str, ctx: Caller) -> Response:
    hub, project = ctx
    parent = await device_of(hub, project, parent_id)
    device = await device_of(hub, project, device_id)
    if device.parent_id != parent.id:
        raise InstathingsError(404, f"Device {device_id} is not a sub-device of {parent_id}.")
    await hub.gateways.unpair(project, device)
    await hub.devices.delete(device)
    return JsonResponse({})


# The seed documents POST and shows its curl example as a GET: both work.
@router.get("/devices/{device_id}/credentials/certificate", operation_id="certificate_get")
@router.post("/devices/{device_id}/credentials/certificate", operation_id="certificate_post")
async def certificate(device_id: str, request: Request, ctx: Caller) -> Response:
    hub, project = ctx
    device = await device_of(hub, project, device_id)
    if not device.is_gateway:
        raise InstathingsError(400, f"Device {device_id} is not a gateway: only gateways get certificates.")
    env = project.settings.get(ENV_SETTING, "sandbox")
    issued = await hub.certificates.issue(project, device, env)
    device = await hub.devices.update(device, certificate_id=issued.certificate_id)
    if env == "live":
        host = (
            project.settings.get(BROKER_SETTING)
            or hub.gateways.broker_host
            or request.url.hostname
            or "localhost"
        )
        port = hub.gateways.broker_port or DEFAULT_BROKER_PORT
        if hub.gateways.agent_package is None:
            raise InstathingsError(503, "The agent package is not ready yet. Try again in a moment.")
        archive = bundle.certificate_zip(
            issued,
            device,
            project,
            broker_host=host,
            broker_port=port,
            hub_url=str(request.base_url).removesuffix("/").removesuffix(request.scope.get("root_path", "")),
            agent=hub.gateways.agent_package,
        )
        return Response(
            archive,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{device.short_id}-certificate.zip"'},
        )
    obj = render.device_object(device, project, await by_id(hub, project))
    obj |= {
        "certificateId": issued.certificate_id,
        "credentials": {
            "certificatePem": issued.certificate_pem,
            "privateKey": issued.private_key_pem,
            "publicKey": issued.public_key_pem,
        },
        "env": env,
        "protocols": list(device.protocols),
        "subDevices": obj.get("subDevices", []),
        "type": device.type_id,
    }
    return JsonResponse(obj)


def _patch(body: dict[str, Any]) -> dict[str, Any]:
    allowed = {"name", "frequency", "demoActive"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InstathingsError(
            400, f"Cannot change {', '.join(unknown)}: only name, frequency and demoActive."
        )
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = _name(body["name"], "name must be")
    if "frequency" in body:
        changes["frequency_s"] = _frequency(body["frequency"])
    if "demoActive" in body:
        if not isinstance(body["demoActive"], bool):
            raise InstathingsError(400, "demoActive must be true or false.")
        changes["demo_active"] = body["demoActive"]
    return changes


def _frequency(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InstathingsError(400, f"frequency must be an integer of seconds, got {type(value).__name__}.")
    return checked(
        values.within, value, "frequency (seconds)", minimum=MIN_FREQUENCY_S, maximum=MAX_FREQUENCY_S
    )


def _name(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InstathingsError(400, f"{what} a string of at most {MAX_NAME} characters.")
    return checked(values.text, value, "name", max_length=MAX_NAME)


async def _new_device(hub: Hub, project: Project, body: dict[str, Any]) -> NewDevice:
    name = _name(body.get("name"), "name is required:")
    flags = {key: body.get(key, False) for key in ("isGateway", "isVirtual", "demoActive")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise InstathingsError(400, f"{key} must be true or false.")
    frequency = _frequency(body.get("frequency", 60))
    type_id = body.get("type")
    if type_id is not None and (not isinstance(type_id, str) or type_id not in catalogue.TYPES):
        raise InstathingsError(400, f"type {type_id!r} is not one of GET /device/v1/types.")
    protocols = body.get("protocols", [])
    if not isinstance(protocols, list) or any(
        not isinstance(p, str) or p not in catalogue.PROTOCOLS for p in protocols
    ):
        raise InstathingsError(
            400, "protocols must be a list of protocol ids (GET /device/v1/protocols/:id)."
        )
    parent_id = None
    parent_short_id = body.get("parentDevice")
    if parent_short_id is not None:
        parent = (
            await hub.devices.by_short_id(project, parent_short_id)
            if isinstance(parent_short_id, str)
            else None
        )
        if parent is None or not parent.is_gateway:
            raise InstathingsError(400, "parentDevice must be the id of a gateway of this project.")
        parent_id = parent.id
    if flags["demoActive"] and not flags["isVirtual"]:
        raise InstathingsError(400, "demoActive applies to virtual devices only.")
    parameters = body.get("parameters", {})
    if not isinstance(parameters, dict) or len(orjson.dumps(parameters)) > MAX_PARAMETERS_BYTES:
        raise InstathingsError(
            400,
            f"parameters must be an object of at most {MAX_PARAMETERS_BYTES} bytes: what the gateway needs "
            'to reach the device, e.g. {"host": "10.0.0.7:80"}.',
        )
    return NewDevice(
        name=name,
        device_type="Gateway" if flags["isGateway"] else "Virtual" if flags["isVirtual"] else "Device",
        codec="json",
        is_gateway=flags["isGateway"],
        is_virtual=flags["isVirtual"],
        demo_active=flags["demoActive"],
        frequency_s=frequency,
        type_id=type_id,
        protocols=tuple(protocols),
        parent_id=parent_id,
        parameters=parameters,
    )
