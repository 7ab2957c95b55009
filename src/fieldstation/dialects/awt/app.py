"""The AWT v2 routes. Order of checks on a data call: API key, bearer token, parameters, rate limit; so a
malformed call costs no quota, and an unknown key cannot spend anybody's.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from fieldstation.core.clock import MICROS
from fieldstation.core.errors import Unauthorized
from fieldstation.core.hub import Hub
from fieldstation.core.models import Credential, Device
from fieldstation.core.ports import ReadingWindow
from fieldstation.dialects.awt import calls, errors
from fieldstation.dialects.awt import rate_limits as groups
from fieldstation.dialects.awt.calls import DAY_S, WindowParams
from fieldstation.dialects.awt.description import DESCRIPTION
from fieldstation.dialects.awt.webhooks import WEBHOOKS
from fieldstation.http import api_docs, openapi
from fieldstation.http.credentials import basic_credentials, client_address
from fieldstation.http.responses import JSON, JsonResponse, json_array_stream
from fieldstation.intake import webhooks

TOKEN_LIFETIME_S = 3600
"""The seed: "This token is valid for 1 hour"."""
ARCHIVE_PAGE = 50_000
ARCHIVE_EPOCH_S = 1_451_606_400
"""2016-01-01, the archive's default start."""
LATEST_CURSOR = "awt.latest"
OPEN_END_US = 2**62


def create_app(hub_ref: Callable[[], Hub]) -> FastAPI:
    app = FastAPI(
        title="fieldstation: Africa Wildlife Tracking API v2",
        description="Wire-compatible with https://api-next.africawildlifetracking.com/v2",
        docs_url=None,
        openapi_url="/openapi.json",
    )
    api_docs.install(app)
    openapi.describe(app, DESCRIPTION)
    errors.install(app)

    async def hub() -> Hub:  # a coroutine: a plain function would be run in a worker thread
        return hub_ref()

    HubDep = Annotated[Hub, Depends(hub)]

    async def api_key_credential(request: Request, hub: HubDep) -> Credential:
        return await calls.key_credential(hub, request.headers.get("x-api-key"))

    async def bearer_credential(request: Request, hub: HubDep) -> Credential:
        headers = request.headers
        return await calls.bearer_credential(hub, headers.get("x-api-key"), headers.get("authorization", ""))

    Caller = Annotated[Credential, Depends(bearer_credential)]

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
        await calls.spend(hub, credential, groups.TOKEN)
        issued = hub.tokens.issue(credential, TOKEN_LIFETIME_S)
        return JsonResponse({"token": issued, "expires_in": "1h", "token_type": "Bearer"})

    @app.get("/devices")
    async def devices(hub: HubDep, credential: Caller) -> Response:
        await calls.spend(hub, credential, groups.DEVICES)
        project = await hub.projects.by_id(credential.project_id)
        tags = [d for d in await hub.devices.list(project) if d.tag_id is not None]
        return JsonResponse([_device_object(d) for d in tags])

    @app.get("/data/latest")
    async def latest(hub: HubDep, credential: Caller) -> StreamingResponse:
        await calls.spend(hub, credential, groups.LATEST)
        now_us = hub.clock.now_us()
        horizon = await hub.readings.commit_horizon(credential.project_id)
        previous = await hub.readings.move_cursor(credential, LATEST_CURSOR, horizon)
        window = ReadingWindow(
            project_id=credential.project_id,
            order="inserted",
            since_us=now_us - DAY_S * MICROS,
            until_us=OPEN_END_US,
            after_position=None if previous is None else previous[0],
            up_to_position=horizon,
        )
        return json_array_stream(hub.readings.awt_pages(window))

    async def recent(
        window_params: WindowParams, hub: Hub, credential: Credential, raw_tag_id: str | None
    ) -> Response:
        page = await calls.recent_page(hub, credential, window_params, raw_tag_id)
        return Response(page, media_type=JSON)

    async def archive(
        window_params: WindowParams, hub: Hub, credential: Credential, raw_tag_id: str | None
    ) -> StreamingResponse:
        start, end, offset = window_params
        device = None if raw_tag_id is None else await calls.device_for_tag(hub, credential, raw_tag_id)
        await calls.spend(hub, credential, groups.ARCHIVE)
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
    async def archive_all(hub: HubDep, credential: Caller, window: Window) -> StreamingResponse:
        """Readings by their own timestamp, 50,000 a page; `start` defaults to 2016-01-01."""
        return await archive(window, hub, credential, None)

    @app.get("/data/archive/{tag_id}")
    async def archive_tag(
        hub: HubDep, credential: Caller, window: Window, tag_id: TagId
    ) -> StreamingResponse:
        """One tag's readings by their own timestamp, 50,000 a page."""
        return await archive(window, hub, credential, tag_id)

    @app.get("/data")
    async def data_all(hub: HubDep, credential: Caller, window: Window) -> Response:
        """Readings received in the last 90 days, by when they arrived, 1,000 a page."""
        return await recent(window, hub, credential, None)

    @app.get("/data/{tag_id}")
    async def data_tag(hub: HubDep, credential: Caller, window: Window, tag_id: TagId) -> Response:
        """One tag's readings received in the last 90 days, 1,000 a page."""
        return await recent(window, hub, credential, tag_id)

    webhooks.add_routes(app, hub_ref, WEBHOOKS, errors.refusal_response)
    return app


async def _window_params(
    start: Annotated[
        str | None, Query(description="Epoch seconds, inclusive.", examples=["1609459200"])
    ] = None,
    end: Annotated[str | None, Query(description="Epoch seconds, inclusive; default now.")] = None,
    offset: Annotated[str | None, Query(description="Records of the same order to skip.")] = None,
) -> WindowParams:
    """The window of a data call. Declared as text and read by `params` (ASCII digits, in range), so that a
    bad value is AWT's 400, not the framework's. A coroutine: the framework runs a plain function in a
    worker thread."""
    return calls.window_params(start, end, offset)


Window = Annotated[WindowParams, Depends(_window_params)]
TagId = Annotated[str, Path(description="The tag id, a number (see GET /devices).")]


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
