"""Astrocast errors: a JSON body `{"message": "..."}` that says what is wrong; 503 with a 15-minute
"try after" as both `Retry-After: 900` and `"retryAfter": 900`, as the seed describes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fieldstation.core.errors import StoreUnavailable
from fieldstation.core.values import BadValue
from fieldstation.http.responses import JsonResponse
from fieldstation.http.routes import allowed_methods
from fieldstation.intake.refusals import Refusal, Refused

log = logging.getLogger("fieldstation.astrocast")
T = TypeVar("T")
RETRY_AFTER_S = 900


class AstrocastError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def checked(check: Callable[..., T], value: Any, name: str, **limits: Any) -> T:
    """A value through one of `core.values`' checks; what it refuses is a 400 in Astrocast's words."""
    try:
        return check(value, name, **limits)
    except BadValue as exc:
        raise AstrocastError(400, f"{exc}.") from None


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object (its size was bounded at the front door)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise AstrocastError(400, "The body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise AstrocastError(400, "The body must be a JSON object.")
    return value


def unavailable(reason: str) -> JsonResponse:
    return JsonResponse(
        {"message": f"{reason} Please retry later.", "retryAfter": RETRY_AFTER_S},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def door_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JsonResponse:
    """An error found at the hub's front door (`http.guard`), in Astrocast's words."""
    return JsonResponse({"message": message}, status_code=status, headers=headers)


REFUSAL_STATUS = {
    Refusal.MALFORMED: 400,
    Refusal.UNAUTHORIZED: 401,
    Refusal.BAD_SIGNATURE: 401,
    Refusal.UNKNOWN_DEVICE: 404,
    Refusal.NOT_FOUND: 404,
    Refusal.RATE_LIMITED: 429,
}


def refusal_response(refused: Refused) -> JsonResponse:
    """What a way in served under this API (the push callbacks) refused, in Astrocast's shape."""
    if refused.why is Refusal.UNAVAILABLE:
        return unavailable("The data store cannot be reached.")
    return JsonResponse({"message": refused.detail or "Refused."}, status_code=REFUSAL_STATUS[refused.why])


def install(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def _refused(_: Request, refused: Refused) -> JsonResponse:
        return refusal_response(refused)

    @app.exception_handler(AstrocastError)
    async def _astrocast(_: Request, exc: AstrocastError) -> JsonResponse:
        if exc.status == 503:
            return unavailable(exc.message)
        return JsonResponse({"message": exc.message}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JsonResponse:
        messages = {
            404: "No such resource in the Astrocast API.",
            405: "Method not allowed on this resource.",
        }
        body = {"message": messages.get(exc.status_code, str(exc.detail))}
        headers = exc.headers
        if exc.status_code == 405:
            headers = {"Allow": ", ".join(allowed_methods(app.routes, request.scope))}
        return JsonResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JsonResponse:
        return JsonResponse({"message": f"Bad request: {exc.errors()[0].get('msg', '')}"}, status_code=400)

    @app.exception_handler(StoreUnavailable)
    async def _store_down(_: Request, exc: Exception) -> JsonResponse:
        log.error("the store cannot be reached: %s", exc)
        return unavailable("The data store cannot be reached.")

    @app.exception_handler(Exception)
    async def _crash(_: Request, __: Exception) -> JsonResponse:
        # Starlette logs the exception after this answer is sent.
        return JsonResponse({"message": "Internal error. Please retry later."}, status_code=500)
