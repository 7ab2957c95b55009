"""The Instathings cloud API: one FastAPI app whose routes come from a module per concern (devices, data,
control) plus the token and the catalogue here. Every call but the token needs `Authorization: Bearer
<access_token>`.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from fieldstation.core.errors import Unauthorized
from fieldstation.core.hub import Hub
from fieldstation.core.models import CredentialKind
from fieldstation.dialects.instathings import catalogue, control, data, devices, ws
from fieldstation.dialects.instathings.access import (
    CLIENT_LIMIT,
    TOKEN_LIFETIME_S,
    Caller,
    accepts_json,
    hub_of,
    read_json,
)
from fieldstation.dialects.instathings.description import DESCRIPTION
from fieldstation.dialects.instathings.errors import InstathingsError, install
from fieldstation.http import api_docs, openapi
from fieldstation.http.responses import JsonResponse

__all__ = ["CLIENT_LIMIT", "create_app"]
router = APIRouter()


def create_app(hub_ref: Callable[[], Hub]) -> FastAPI:
    app = FastAPI(
        title="fieldstation: Instathings API",
        description="Wire-compatible with the Instathings cloud API",
        docs_url=None,
        openapi_url="/openapi.json",
    )
    api_docs.install(app)
    openapi.describe(app, DESCRIPTION)
    app.state.hub_ref = hub_ref
    install(app)

    @app.middleware("http")
    async def only_json(request: Request, call_next: Any) -> Response:
        if not accepts_json(request.headers.get("accept")):
            return JsonResponse({"message": "You requested a format that isn't json."}, status_code=406)
        response: Response = await call_next(request)
        return response

    for part in (router, devices.router, data.router, control.router):
        app.include_router(part)
    ws.add_route(app, hub_ref)
    return app


@router.post("/authentication/v1/oauth/token")
async def token(request: Request) -> Response:
    hub = hub_of(request)
    body = await read_json(request)
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


@router.get("/device/v1/protocols/{protocol_id}")
async def protocol(protocol_id: str, _: Caller) -> Response:
    found = catalogue.PROTOCOLS.get(protocol_id)
    if found is None:
        raise InstathingsError(404, f"Protocol {protocol_id} not found.")
    return JsonResponse(found)


@router.get("/device/v1/types")
async def types(_: Caller) -> Response:
    return JsonResponse(list(catalogue.TYPES.values()))


@router.get("/device/v1/types/{type_id}")
async def device_type(type_id: str, _: Caller) -> Response:
    found = catalogue.TYPES.get(type_id)
    if found is None:
        raise InstathingsError(404, f"Type {type_id} not found.")
    return JsonResponse(found)
