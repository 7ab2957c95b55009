"""Who is calling, and what every Instathings route needs: the hub, the caller's project (bearer token,
per-client rate limit), a device by its short id, a JSON body, the `Accept` rule.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from fieldstation.core.errors import Unauthorized
from fieldstation.core.hub import Hub
from fieldstation.core.models import CredentialKind, Device, Project
from fieldstation.core.values import json_value
from fieldstation.dialects.instathings.errors import InstathingsError

TOKEN_LIFETIME_S = 3600
"""An access token is valid for an hour; ask for a new one with the same client credentials."""
CLIENT_LIMIT = "instathings.client"


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub_ref()
    return hub


async def caller(request: Request) -> tuple[Hub, Project]:
    hub = hub_of(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InstathingsError(401, "Your JWT token is missing: send Authorization: Bearer <access_token>.")
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


def accepts_json(accept: str | None) -> bool:
    if not accept:
        return True
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return any(
        kind in ("*/*", "application/*", "application/json") or kind.endswith("+json") for kind in kinds
    )


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()  # its size was bounded at the front door
    try:
        value = json_value(raw or b"{}")
    except orjson.JSONDecodeError:
        raise InstathingsError(400, "Your request is invalid: the body is not JSON.") from None
    if not isinstance(value, dict):
        raise InstathingsError(400, "Your request is invalid: the body must be a JSON object.")
    return value
