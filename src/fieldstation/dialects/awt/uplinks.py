"""The four LoRa uplink endpoints: `POST /lora`, `/ttn-webhook`, `/chirpstack`, `/actility`.

Authentication as the seed says: `X-API-KEY` plus Basic, no bearer token. `201 Created` is sent only once
the uplink is committed; a repeat of a stored uplink answers 201 with the first reading's `recordId` and
`"duplicate": true`. Deliveries that are not uplinks (a ChirpStack `join`, a TTN `downlink_ack`) answer
`202 Accepted` and are kept as network events. Bad bodies are a 400 that says what is wrong, and change
nothing.

No `from __future__ import annotations`: FastAPI reads these annotations at run time."""

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fieldstation import networks
from fieldstation.core import values
from fieldstation.core.errors import NotFound, RateLimited, Unauthorized
from fieldstation.core.hub import Hub
from fieldstation.core.models import Credential, CredentialKind, NewUplink
from fieldstation.core.values import BadValue
from fieldstation.dialects.awt import errors
from fieldstation.http.responses import JsonResponse
from fieldstation.networks import BadBody, BadSignature, Network, OtherEvent

log = logging.getLogger("fieldstation.awt")

WEBHOOKS: dict[str, Network] = {
    "/lora": networks.AWT,
    "/ttn-webhook": networks.TTN,
    "/chirpstack": networks.CHIRPSTACK,
    "/actility": networks.ACTILITY,
}
"""The AWT seed's uplink paths, and the network server whose webhook each takes."""


async def receive_uplink(hub: Hub, request: Request, network: Network) -> Response:
    credential = await _basic_caller(request, hub)
    body = await request.body()  # its size was bounded at the front door (http.guard)
    query = request.scope["query_string"].decode("latin-1")
    try:
        parsed = network.parse(body, query)
    except BadBody as exc:
        raise errors.malformed(f"{network.name}: {exc}.") from exc
    project = await hub.projects.by_id(credential.project_id)
    signature = network.signature
    key = None if signature is None else project.settings.get(signature.setting)
    if signature is not None and key and not isinstance(parsed, OtherEvent):
        try:
            signature.verify(body, query, key)
        except (BadSignature, BadBody) as exc:
            raise errors.AwtError(401, f"Unauthorized. {exc}.") from exc
    if isinstance(parsed, OtherEvent):
        await hub.ingestor.record_network_event(
            project, parsed.eui, network.name, parsed.kind, parsed.meta, body
        )
        return JsonResponse({"event": parsed.kind, "accepted": True}, status_code=202)
    try:
        device = await hub.devices.for_uplink(project, parsed.eui, parsed.payload)
    except NotFound as exc:
        raise errors.AwtError(404, errors.DEVICE_NOT_FOUND.format(eui=parsed.eui)) from exc
    uplink = NewUplink(
        source=network.name,
        payload=parsed.payload,
        received_us=parsed.received_us or hub.clock.now_us(),
        raw=body,
        eui=parsed.eui,
        f_cnt=parsed.f_cnt,
        f_port=parsed.f_port,
        meta=parsed.meta,
    )
    stored = await hub.ingestor.submit(device, uplink)
    return JsonResponse({"recordId": stored.uid, "duplicate": stored.duplicate}, status_code=201)


def add_routes(app: FastAPI, hub_ref: Callable[[], Hub]) -> None:
    """The uplink routes as FastAPI routes: they document the API (OpenAPI). `UplinkIntake`, in front of
    the app, answers the same paths with the same function, faster."""
    for path, network in WEBHOOKS.items():
        app.add_api_route(path, _endpoint(hub_ref, network), methods=["POST"], status_code=201, name=path[1:])


def _endpoint(hub_ref: Callable[[], Hub], network: Network) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await receive_uplink(hub_ref(), request, network)

    endpoint.__doc__ = network.description
    return endpoint


class UplinkIntake:
    """ASGI front for the uplink paths, placed before the whole application (`front` in the dialect
    contract): a network server's webhook is the hub's hottest request, and FastAPI's per-request machinery
    (two middleware stacks, telemetry, routing, dependency solving) cost more than the uplink's own work
    (docs/performance.md). Everything else goes on to the app."""

    def __init__(self, app: ASGIApp, hub_ref: Callable[[], Hub], mount: str) -> None:
        self.app = app
        self._hub_ref = hub_ref
        self._networks = {mount + path: network for path, network in WEBHOOKS.items()}

    @property
    def state(self) -> object:
        """The wrapped app's state, so that the front is as transparent as middleware."""
        return getattr(self.app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            network = self._networks.get(scope["path"])
            if network is not None:
                response = await self._respond(Request(scope, receive), network)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _respond(self, request: Request, network: Network) -> Response:
        try:
            return await receive_uplink(self._hub_ref(), request, network)
        except errors.AwtError as exc:
            return errors.error_response(exc.status, exc.message, exc.headers)
        except ClientDisconnect:
            raise  # nobody to answer: the front door lets it go quietly
        except Exception:
            log.exception("uplink on %s failed", request.url.path)
            return errors.error_response(500, errors.SERVER_ERROR)


async def _basic_caller(request: Request, hub: Hub) -> Credential:
    try:
        credential = await hub.auth.key(CredentialKind.AWT, request.headers.get("x-api-key"))
        username, secret = basic_credentials(request.headers.get("authorization", ""))
        await hub.auth.password(credential, username, secret, client_address(request))
    except Unauthorized as exc:
        raise errors.AwtError(401, errors.BAD_KEY) from exc
    except RateLimited as exc:
        raise errors.AwtError(429, errors.RATE_LIMITED, {"Retry-After": str(exc.retry_after_s)}) from exc
    return credential


def client_address(request: Request) -> str | None:
    return None if request.client is None else request.client.host


def basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise Unauthorized("no Basic credentials")
    try:
        decoded = values.base64_bytes(encoded.strip(), "Basic credentials").decode("utf-8")
    except (BadValue, UnicodeDecodeError) as exc:
        raise Unauthorized("malformed Basic credentials") from exc
    username, colon, secret = decoded.partition(":")
    if not colon:
        raise Unauthorized("malformed Basic credentials")
    return username, secret
