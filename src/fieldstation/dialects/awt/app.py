"""The AWT v2 routes. Order of checks on a data call: API key, bearer token, parameters, rate limit; so a
malformed call costs no quota, and an unknown key cannot spend anybody's.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from starlette.responses import Response, StreamingResponse

from fieldstation.core.clock import MICROS
from fieldstation.core.errors import Unauthorized
from fieldstation.core.hub import Hub
from fieldstation.core.models import Credential, CredentialKind, Device
from fieldstation.core.ports import ReadingWindow
from fieldstation.dialects.awt import errors, params
from fieldstation.dialects.awt import rate_limits as groups
from fieldstation.dialects.awt.webhooks import WEBHOOKS
from fieldstation.http.credentials import basic_credentials, client_address
from fieldstation.http.responses import JsonResponse, json_array_stream
from fieldstation.intake import webhooks

TOKEN_LIFETIME_S = 3600
"""The seed: "This token is valid for 1 hour"."""
DAY_S = 86_400
RECENT_DAYS = 90
RECENT_PAGE = 1_000
ARCHIVE_PAGE = 50_000
ARCHIVE_EPOCH_S = 1_451_606_400
"""2016-01-01, the archive's default start."""
LATEST_CURSOR = "awt.latest"
OPEN_END_US = 2**62


def create_app(hub_ref: Callable[[], Hub]) -> FastAPI:
    app = FastAPI(
        title="fieldstation: Africa Wildlife Tracking API v2",
        description="Wire-compatible with https://api-next.africawildlifetracking.com/v2",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    errors.install(app)

    def hub() -> Hub:
        return hub_ref()

    HubDep = Annotated[Hub, Depends(hub)]

    async def api_key_credential(request: Request, hub: HubDep) -> Credential:
        try:
            return await hub.auth.key(CredentialKind.AWT, request.headers.get("x-api-key"))
        except Unauthorized as exc:
            raise errors.AwtError(401, errors.BAD_KEY) from exc

    async def bearer_credential(
        request: Request, hub: HubDep, credential: Annotated[Credential, Depends(api_key_credential)]
    ) -> Credential:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise errors.AwtError(401, errors.BAD_TOKEN)
        try:
            hub.tokens.verify(token.strip(), credential)
        except Unauthorized as exc:
            raise errors.AwtError(401, errors.BAD_TOKEN) from exc
        return credential

    Caller = Annotated[Credential, Depends(bearer_credential)]

    async def spend(hub: Hub, credential: Credential, group: str) -> None:
        await hub.limiter.hit(f"awt:{credential.id}", group)

    async def device_for_tag(hub: Hub, credential: Credential, raw_tag_id: str) -> Device:
        project = await hub.projects.by_id(credential.project_id)
        device = await hub.devices.by_tag(project, params.tag_id(raw_tag_id))
        if device is None:
            raise errors.AwtError(404, errors.TAG_NOT_FOUND)
        return device

    @app.post("/token")
    async def token(
        request: Request, hub: HubDep, credential: Annotated[Credential, Depends(api_key_credential)]
    ) -> Response:
        try:
            username, secret = basic_credentials(request.headers.get("authorization", ""))
        except Unauthorized as exc:
            raise errors.AwtError(401, errors.BAD_KEY) from exc
        try:
            await hub.auth.password(credential, username, secret, client_address(request))
        except Unauthorized as exc:
            raise errors.AwtError(401, errors.BAD_KEY) from exc
        # Counted once the password is right: someone who holds the key but not the password cannot spend
        # the owner's one token a minute. Guessing is bounded by the password throttle (core/auth.py).
        await spend(hub, credential, groups.TOKEN)
        issued = hub.tokens.issue(credential, TOKEN_LIFETIME_S)
        return JsonResponse({"token": issued, "expires_in": "1h", "token_type": "Bearer"})

    @app.get("/devices")
    async def devices(hub: HubDep, credential: Caller) -> Response:
        await spend(hub, credential, groups.DEVICES)
        project = await hub.projects.by_id(credential.project_id)
        tags = [d for d in await hub.devices.list(project) if d.tag_id is not None]
        return JsonResponse([_device_object(d) for d in tags])

    @app.get("/data/latest")
    async def latest(hub: HubDep, credential: Caller) -> StreamingResponse:
        await spend(hub, credential, groups.LATEST)
        now_us = hub.clock.now_us()
        newest = await hub.readings.newest_id(credential.project_id)
        previous = await hub.readings.move_cursor(credential, LATEST_CURSOR, newest)
        window = ReadingWindow(
            project_id=credential.project_id,
            order="inserted",
            since_us=now_us - DAY_S * MICROS,
            until_us=OPEN_END_US,
            after_id=None if previous is None else previous[0],
            up_to_id=newest,
        )
        return json_array_stream(hub.readings.awt_pages(window))

    async def recent(
        request: Request, hub: Hub, credential: Credential, raw_tag_id: str | None
    ) -> StreamingResponse:
        start, end, offset = _window_params(request)
        device = None if raw_tag_id is None else await device_for_tag(hub, credential, raw_tag_id)
        await spend(hub, credential, groups.DATA)
        now_us = hub.clock.now_us()
        horizon_us = now_us - RECENT_DAYS * DAY_S * MICROS
        window = ReadingWindow(
            project_id=credential.project_id,
            device_id=None if device is None else device.id,
            order="inserted",
            since_us=horizon_us if start is None else max(start * MICROS, horizon_us),
            until_us=now_us if end is None else end * MICROS + MICROS - 1,
            limit=RECENT_PAGE,
            offset=offset,
        )
        return json_array_stream(hub.readings.awt_pages(window))

    async def archive(
        request: Request, hub: Hub, credential: Credential, raw_tag_id: str | None
    ) -> StreamingResponse:
        start, end, offset = _window_params(request)
        device = None if raw_tag_id is None else await device_for_tag(hub, credential, raw_tag_id)
        await spend(hub, credential, groups.ARCHIVE)
        window = ReadingWindow(
            project_id=credential.project_id,
            device_id=None if device is None else device.id,
            order="time",
            since_us=(ARCHIVE_EPOCH_S if start is None else start) * MICROS,
            until_us=hub.clock.now_us() if end is None else end * MICROS + MICROS - 1,
            limit=ARCHIVE_PAGE,
            offset=offset,
        )
        return json_array_stream(hub.readings.awt_pages(window))

    # /data/archive must be routed before /data/{tagId}, which would otherwise take "archive" as a tag.
    @app.get("/data/archive")
    async def archive_all(request: Request, hub: HubDep, credential: Caller) -> StreamingResponse:
        return await archive(request, hub, credential, None)

    @app.get("/data/archive/{tag_id}")
    async def archive_tag(
        request: Request, hub: HubDep, credential: Caller, tag_id: str
    ) -> StreamingResponse:
        return await archive(request, hub, credential, tag_id)

    @app.get("/data")
    async def data_all(request: Request, hub: HubDep, credential: Caller) -> StreamingResponse:
        return await recent(request, hub, credential, None)

    @app.get("/data/{tag_id}")
    async def data_tag(request: Request, hub: HubDep, credential: Caller, tag_id: str) -> StreamingResponse:
        return await recent(request, hub, credential, tag_id)

    webhooks.add_routes(app, hub_ref, WEBHOOKS, errors.refusal_response)
    return app


def _window_params(request: Request) -> tuple[int | None, int | None, int]:
    query = request.query_params
    start = params.optional_integer(query, "start")
    end = params.optional_integer(query, "end")
    offset = params.optional_integer(query, "offset", maximum=params.MAX_OFFSET) or 0
    return start, end, offset


def _device_object(device: Device) -> dict[str, object]:
    made_us = device.manufactured_us if device.manufactured_us is not None else device.created_us
    return {
        "tag_id": str(device.tag_id),
        "imei": device.eui,
        "device_type": device.device_type,
        "asset": device.asset,
        "software_version": device.software_version,
        "created_at": made_us // MICROS,
    }
