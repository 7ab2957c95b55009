"""The LoRa network servers' webhooks (AWT's `POST /lora`, `/ttn-webhook`, `/chirpstack`, `/actility`).

Callers authenticate with an AWT credential, as AWT's documentation says: `X-API-KEY` plus Basic, no bearer
token. `201 Created` is sent only once the uplink is committed; a repeat of a stored uplink answers 201
with the first reading's `recordId` and `"duplicate": true`. Deliveries that are not uplinks (a ChirpStack
`join`, a TTN `downlink_ack`) answer `202 Accepted` and are kept as network events. A bad body is refused
with what is wrong, and changes nothing.

No `from __future__ import annotations`: FastAPI reads these annotations at run time."""

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fieldstation.core.errors import NotFound, RateLimited, StoreUnavailable, Unauthorized
from fieldstation.core.hub import Hub
from fieldstation.core.models import Credential, CredentialKind, NewUplink
from fieldstation.http.credentials import basic_credentials
from fieldstation.http.responses import JsonResponse
from fieldstation.intake.refusals import Refusal, RefusalRenderer, Refused
from fieldstation.networks import BadBody, BadSignature, Network, OtherEvent

log = logging.getLogger("fieldstation.intake")
Webhooks = Mapping[str, Network]
"""Path (under the serving API's prefix) -> the network server whose webhook it takes."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook request as the intake needs it, whichever way it came in (the ASGI front or the app's
    route): no framework object per uplink."""

    body: bytes
    query: str
    api_key: str | None
    authorization: str
    client: str | None


async def receive_uplink(hub: Hub, delivery: Delivery, network: Network) -> tuple[int, dict[str, Any]]:
    """The answer's status and JSON body; a refusal raises `Refused`."""
    credential = await _caller(hub, delivery)
    body, query = delivery.body, delivery.query  # the body's size was bounded at the front door (http.guard)
    try:
        parsed = network.parse(body, query)
    except BadBody as exc:
        raise Refused(Refusal.MALFORMED, f"{network.name}: {exc}.") from exc
    project = await hub.projects.by_id(credential.project_id)
    signature = network.signature
    key = None if signature is None else project.settings.get(signature.setting)
    if signature is not None and key and not isinstance(parsed, OtherEvent):
        try:
            signature.verify(body, query, key)
        except (BadSignature, BadBody) as exc:
            raise Refused(Refusal.BAD_SIGNATURE, f"{exc}.") from exc
    if isinstance(parsed, OtherEvent):
        await hub.ingestor.record_network_event(
            project, parsed.eui, network.name, parsed.kind, parsed.meta, body
        )
        return 202, {"event": parsed.kind, "accepted": True}
    try:
        device = await hub.devices.for_uplink(project, parsed.eui, parsed.payload)
    except NotFound as exc:
        raise Refused(Refusal.UNKNOWN_DEVICE, parsed.eui) from exc
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
    return 201, {"recordId": stored.uid, "duplicate": stored.duplicate}


def add_routes(app: FastAPI, hub_ref: Callable[[], Hub], webhooks: Webhooks, render: RefusalRenderer) -> None:
    """The webhooks as routes of the serving API's app: they are in its OpenAPI document. `WebhookFront`,
    in front of the whole application, answers the same paths with the same function, faster."""
    for path, network in webhooks.items():
        app.add_api_route(
            path, _endpoint(hub_ref, network, render), methods=["POST"], status_code=201, name=path[1:]
        )


def _endpoint(
    hub_ref: Callable[[], Hub], network: Network, render: RefusalRenderer
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        outcome = await _outcome(hub_ref(), await _delivery(request.scope, request.receive), network, render)
        return outcome if isinstance(outcome, Response) else JsonResponse(outcome[1], status_code=outcome[0])

    endpoint.__doc__ = network.description
    return endpoint


class WebhookFront:
    """ASGI front for the webhook paths, placed before the whole application: a network server's webhook
    is the hub's hottest request, and the framework's per-request machinery (middleware stacks, routing,
    dependency solving) cost more than the uplink's own work (docs/performance.md). Everything else goes on
    to the app."""

    def __init__(
        self,
        app: ASGIApp,
        hub_ref: Callable[[], Hub],
        mount: str,
        webhooks: Webhooks,
        render: RefusalRenderer,
        crashed: Callable[[], Response],
    ) -> None:
        self.app = app
        self._hub_ref = hub_ref
        self._networks = {mount + path: network for path, network in webhooks.items()}
        self._render = render
        self._crashed = crashed

    @property
    def state(self) -> object:
        """The wrapped app's state, so that the front is as transparent as middleware."""
        return getattr(self.app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            network = self._networks.get(scope["path"])
            if network is not None:
                await self._receive(scope, receive, send, network)
                return
        await self.app(scope, receive, send)

    async def _receive(self, scope: Scope, receive: Receive, send: Send, network: Network) -> None:
        scope["fieldstation.route"] = f"{network.name}_webhook"  # the metrics' route label
        try:
            delivery = await _delivery(scope, receive)
        except ClientDisconnect:
            return  # nobody to answer
        try:
            outcome = await _outcome(self._hub_ref(), delivery, network, self._render)
        except Exception:
            log.exception("uplink on %s failed", scope["path"])
            outcome = self._crashed()
        if isinstance(outcome, Response):
            await outcome(scope, receive, send)
            return
        status, answer = outcome
        body = orjson.dumps(answer)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _outcome(
    hub: Hub, delivery: Delivery, network: Network, render: RefusalRenderer
) -> tuple[int, dict[str, Any]] | Response:
    """The uplink's answer (status and JSON body), or its refusal in the serving API's words."""
    try:
        return await receive_uplink(hub, delivery, network)
    except Refused as refused:
        hub.meters.refused(network.name, refused.why.value)
        return render(refused)
    except StoreUnavailable:
        hub.meters.refused(network.name, Refusal.UNAVAILABLE.value)
        return render(Refused(Refusal.UNAVAILABLE))


async def _delivery(scope: Scope, receive: Receive) -> Delivery:
    """Read a webhook request straight from ASGI: its body (bounded at the front door), the two headers
    that authenticate it, and the caller's address."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    api_key: str | None = None
    authorization = ""
    for name, value in scope["headers"]:
        if name == b"x-api-key" and api_key is None:  # the first of repeated headers, as Starlette's
            api_key = value.decode("latin-1")
        elif name == b"authorization" and not authorization:
            authorization = value.decode("latin-1")
    client = scope.get("client")
    return Delivery(
        chunks[0] if len(chunks) == 1 else b"".join(chunks),
        scope["query_string"].decode("latin-1"),
        api_key,
        authorization,
        None if client is None else client[0],
    )


async def _caller(hub: Hub, delivery: Delivery) -> Credential:
    try:
        credential = await hub.auth.key(CredentialKind.AWT, delivery.api_key)
        username, secret = basic_credentials(delivery.authorization)
        await hub.auth.password(credential, username, secret, delivery.client)
    except Unauthorized as exc:
        raise Refused(Refusal.UNAUTHORIZED) from exc
    except RateLimited as exc:
        raise Refused(Refusal.RATE_LIMITED, retry_after_s=exc.retry_after_s) from exc
    return credential
