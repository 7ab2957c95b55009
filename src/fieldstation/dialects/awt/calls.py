"""The AWT calls' work, free of the framework: who is calling, the window of a data call, a page. The routes
(`app.py`) and the front for the hottest of them (`front.py`) both call these, so that the two answer
alike, errors included (`AwtError`, `RateLimited` and `StoreUnavailable` propagate to whichever renders
them)."""

from __future__ import annotations

from fieldstation.core.clock import MICROS
from fieldstation.core.errors import Unauthorized
from fieldstation.core.hub import Hub
from fieldstation.core.models import Credential, CredentialKind, Device
from fieldstation.core.ports import ReadingWindow
from fieldstation.dialects.awt import errors, params
from fieldstation.dialects.awt import rate_limits as groups
from fieldstation.http.responses import json_array_bytes

DAY_S = 86_400
RECENT_DAYS = 90
RECENT_PAGE = 1_000

WindowParams = tuple[int | None, int | None, int]


async def key_credential(hub: Hub, api_key: str | None) -> Credential:
    try:
        return await hub.auth.key(CredentialKind.AWT, api_key)
    except Unauthorized as exc:
        raise errors.AwtError(401, errors.BAD_KEY) from exc


async def bearer_credential(hub: Hub, api_key: str | None, authorization: str) -> Credential:
    """The caller of a data call: its API key, then its bearer token (issued for that key)."""
    credential = await key_credential(hub, api_key)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.AwtError(401, errors.BAD_TOKEN)
    try:
        hub.tokens.verify(token.strip(), credential)
    except Unauthorized as exc:
        raise errors.AwtError(401, errors.BAD_TOKEN) from exc
    return credential


def window_params(start: str | None, end: str | None, offset: str | None) -> WindowParams:
    """The window of a data call, read by `params` (ASCII digits, in range): a bad value is AWT's 400."""
    return (
        None if not start else params.integer(start, "start"),
        None if not end else params.integer(end, "end"),
        0 if not offset else params.integer(offset, "offset", maximum=params.MAX_OFFSET),
    )


async def spend(hub: Hub, credential: Credential, group: str) -> None:
    await hub.limiter.hit(f"awt:{credential.id}", group)


async def device_for_tag(hub: Hub, credential: Credential, raw_tag_id: str) -> Device:
    project = await hub.projects.by_id(credential.project_id)
    device = await hub.devices.by_tag(project, params.tag_id(raw_tag_id))
    if device is None:
        raise errors.AwtError(404, errors.TAG_NOT_FOUND)
    return device


async def recent_page(
    hub: Hub, credential: Credential, window: WindowParams, raw_tag_id: str | None
) -> bytes:
    """`GET /data` and `/data/{tagId}`: readings received in the last 90 days, by arrival, 1,000 a page."""
    start, end, offset = window
    device = None if raw_tag_id is None else await device_for_tag(hub, credential, raw_tag_id)
    await spend(hub, credential, groups.DATA)
    now_us = hub.clock.now_us()
    horizon_us = now_us - RECENT_DAYS * DAY_S * MICROS
    reading_window = ReadingWindow(
        project_id=credential.project_id,
        device_id=None if device is None else device.id,
        order="inserted",
        since_us=horizon_us if start is None else max(start * MICROS, horizon_us),
        until_us=now_us if end is None else end * MICROS + MICROS - 1,
        limit=RECENT_PAGE,
        offset=offset,
    )
    return await json_array_bytes(hub.readings.awt_pages(reading_window))
