"""The Instathings cloud routes. Every call but the token needs `Authorization: Bearer <access_token>`.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from starlette.responses import Response

from fieldstation.core import catalogue, values
from fieldstation.core.errors import AlreadyExists, InvalidInput, NotFound, Unauthorized
from fieldstation.core.hub import Hub
from fieldstation.core.models import CredentialKind, Device, NewDevice, Project
from fieldstation.core.values import MAX_TIME_MS
from fieldstation.dialects.instathings import bundle, render, ws
from fieldstation.dialects.instathings.errors import InstathingsError, checked, install
from fieldstation.http.params import query_parameters
from fieldstation.http.responses import JsonResponse

TOKEN_LIFETIME_S = 3600
"""An access token is valid for an hour; ask for a new one with the same client credentials."""
MAX_NAME = 20
MIN_FREQUENCY_S = 30
MAX_FREQUENCY_S = 30 * 86_400
"""A virtual device produces at least once in 30 days (docs/instathings.md)."""
MAX_PER_PAGE = 100
ENV_SETTING = "instathings_env"
BROKER_SETTING = "instathings_broker"
CLIENT_LIMIT = "instathings.client"


def create_app(hub_ref: Callable[[], Hub]) -> FastAPI:
    app = FastAPI(
        title="fieldstation: Instathings API",
        description="Wire-compatible with the Instathings cloud API",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    install(app)

    @app.middleware("http")
    async def only_json(request: Request, call_next: Any) -> Response:
        if not _accepts_json(request.headers.get("accept")):
            return JsonResponse({"message": "You requested a format that isn't json."}, status_code=406)
        response: Response = await call_next(request)
        return response

    async def caller(request: Request) -> tuple[Hub, Project]:
        hub = hub_ref()
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InstathingsError(
                401, "Your JWT token is missing: send Authorization: Bearer <access_token>."
            )
        try:
            credential_id = hub.tokens.subject(token.strip(), CredentialKind.INSTATHINGS)
            credential = await hub.auth.by_id(credential_id, CredentialKind.INSTATHINGS)
        except Unauthorized as exc:
            raise InstathingsError(401, "Your JWT token is wrong or expired.") from exc
        await hub.limiter.hit(f"instathings:{credential.id}", CLIENT_LIMIT)
        return hub, await hub.projects.by_id(credential.project_id)

    Caller = Annotated[tuple[Hub, Project], Depends(caller)]

    async def device_of(hub: Hub, project: Project, short_id: str) -> Device:
        device = await hub.devices.by_short_id(project, short_id)
        if device is None:
            raise InstathingsError(404, f"Device {short_id} not found.")
        return device

    async def by_id(hub: Hub, project: Project) -> dict[int, Device]:
        return {d.id: d for d in await hub.devices.list(project)}

    @app.post("/authentication/v1/oauth/token")
    async def token(request: Request) -> Response:
        hub = hub_ref()
        body = await _json(request)
        client_id, client_secret = body.get("clientId"), body.get("clientSecret")
        if not isinstance(client_id, str) or not isinstance(client_secret, str):
            raise InstathingsError(400, "clientId and clientSecret are required strings.")
        try:
            credential = await hub.auth.key(CredentialKind.INSTATHINGS, client_secret)
        except Unauthorized as exc:
            raise InstathingsError(401, "Unknown clientId or clientSecret.") from exc
        if credential.username != client_id:
            raise InstathingsError(401, "Unknown clientId or clientSecret.")
        await hub.limiter.hit(f"instathings:{credential.id}", CLIENT_LIMIT)
        return JsonResponse({"access_token": hub.tokens.issue(credential, TOKEN_LIFETIME_S)})

    @app.get("/device/v1/devices")
    async def list_devices(ctx: Caller) -> Response:
        hub, project = ctx
        devices = await by_id(hub, project)
        return JsonResponse([render.device_object(d, project, devices) for d in devices.values()])

    @app.post("/device/v1/devices", status_code=201)
    async def create_device(request: Request, ctx: Caller) -> Response:
        hub, project = ctx
        body = await _json(request)
        new = await _new_device(hub, project, body)
        try:
            device = await hub.devices.add(project, new)
        except (InvalidInput, AlreadyExists) as exc:
            raise InstathingsError(400, f"{exc}.") from exc
        return JsonResponse(render.device_object(device, project, await by_id(hub, project)), status_code=201)

    @app.get("/device/v1/devices/{device_id}")
    async def get_device(device_id: str, ctx: Caller) -> Response:
        hub, project = ctx
        device = await device_of(hub, project, device_id)
        return JsonResponse(render.device_object(device, project, await by_id(hub, project), expand=True))

    @app.patch("/device/v1/devices/{device_id}")
    async def patch_device(device_id: str, request: Request, ctx: Caller) -> Response:
        hub, project = ctx
        device = await device_of(hub, project, device_id)
        changes = _patch(await _json(request))
        if changes.get("demo_active") and not device.is_virtual:
            raise InstathingsError(400, "demoActive applies to virtual devices only.")
        if changes:
            if changes.get("demo_active") or "frequency_s" in changes:
                changes["virtual_next_us"] = None  # start the new schedule now
            await hub.devices.update(device, **changes)
        return JsonResponse({})

    @app.delete("/device/v1/devices/{device_id}")
    async def delete_device(device_id: str, ctx: Caller) -> Response:
        hub, project = ctx
        device = await device_of(hub, project, device_id)
        await hub.devices.delete(device)
        return JsonResponse({})

    @app.delete("/devices/{parent_id}/subDevice/subDevices/{device_id}")
    async def delete_sub_device(parent_id: str, device_id: str, ctx: Caller) -> Response:
        hub, project = ctx
        parent = await device_of(hub, project, parent_id)
        device = await device_of(hub, project, device_id)
        if device.parent_id != parent.id:
            raise InstathingsError(404, f"Device {device_id} is not a sub-device of {parent_id}.")
        await hub.devices.delete(device)
        return JsonResponse({})

    # The seed documents POST and shows its curl example as a GET: both work.
    @app.get("/devices/{device_id}/credentials/certificate", operation_id="certificate_get")
    @app.post("/devices/{device_id}/credentials/certificate", operation_id="certificate_post")
    async def certificate(device_id: str, request: Request, ctx: Caller) -> Response:
        hub, project = ctx
        device = await device_of(hub, project, device_id)
        if not device.is_gateway:
            raise InstathingsError(
                400, f"Device {device_id} is not a gateway: only gateways get certificates."
            )
        issued = await hub.certificates.issue(project, device)
        device = await hub.devices.update(device, certificate_id=issued.certificate_id)
        env = project.settings.get(ENV_SETTING, "sandbox")
        if env == "live":
            host = project.settings.get(BROKER_SETTING) or request.url.hostname or "localhost"
            archive = bundle.certificate_zip(issued, device, project, broker_host=host, broker_port=8883)
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

    @app.get("/device/v1/devices/{device_id}/data")
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

    @app.get("/device/v1/devices/{device_id}/{container_id}/logs")
    async def logs(device_id: str, container_id: str, ctx: Caller, query: LogQuery) -> Response:
        """A container's log lines; `start` and `end` together, or neither."""
        hub, project = ctx
        device = await device_of(hub, project, device_id)
        start, end = _millis(query.get("start"), "start"), _millis(query.get("end"), "end")
        if (start is None) != (end is None):
            raise InstathingsError(
                400, "start and end must be given together (epoch milliseconds), or neither."
            )
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

    @app.get("/device/v1/protocols/{protocol_id}")
    async def protocol(protocol_id: str, _: Caller) -> Response:
        found = catalogue.PROTOCOLS.get(protocol_id)
        if found is None:
            raise InstathingsError(404, f"Protocol {protocol_id} not found.")
        return JsonResponse(found)

    @app.get("/device/v1/types")
    async def types(_: Caller) -> Response:
        return JsonResponse(list(catalogue.TYPES.values()))

    @app.get("/device/v1/types/{type_id}")
    async def device_type(type_id: str, _: Caller) -> Response:
        found = catalogue.TYPES.get(type_id)
        if found is None:
            raise InstathingsError(404, f"Type {type_id} not found.")
        return JsonResponse(found)

    @app.post("/device/v1/control/{device_id}/set")
    async def control(device_id: str, request: Request, ctx: Caller) -> Response:
        hub, project = ctx
        device = await device_of(hub, project, device_id)
        await hub.operations.control(project, device, await _control_request(request))
        return JsonResponse({})

    @app.post("/device/v1/control/{device_id}/status", status_code=202)
    async def status(device_id: str, request: Request, ctx: Caller) -> Response:
        hub, project = ctx
        device = await device_of(hub, project, device_id)
        operation = await hub.operations.request_status(project, device, await _control_request(request))
        location = f"{request.scope.get('root_path', '')}/device/v1/control/{operation.short_id}/fetch"
        return JsonResponse({}, status_code=202, headers={"Location": location})

    @app.get("/device/v1/control/{request_id}/fetch")
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

    ws.add_route(app, hub_ref)
    return app


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


def _accepts_json(accept: str | None) -> bool:
    if not accept:
        return True
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return any(
        kind in ("*/*", "application/*", "application/json") or kind.endswith("+json") for kind in kinds
    )


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()  # its size was bounded at the front door
    try:
        value = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise InstathingsError(400, "Your request is invalid: the body is not JSON.") from None
    if not isinstance(value, dict):
        raise InstathingsError(400, "Your request is invalid: the body must be a JSON object.")
    return value


async def _control_request(request: Request) -> dict[str, Any]:
    """What goes down to the device: the JSON body as is, the query parameters, and for HTTP devices the
    path and method to call on them."""
    raw = await request.body()  # its size was bounded at the front door
    body: Any = None
    if raw.strip():
        try:
            body = orjson.loads(raw)
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
    )


def _millis(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    return checked(values.integer, value, f"{name} (epoch milliseconds)", maximum=MAX_TIME_MS)


def _integer(value: str | None, name: str, low: int, high: int, *, default: int) -> int:
    if value in (None, ""):
        return default
    return checked(values.integer, value, name, minimum=low, maximum=high)
