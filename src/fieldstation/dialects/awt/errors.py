"""AWT errors: `{"error": "..."}` with the seed's status codes and messages, never a framework default."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fieldstation.core.errors import RateLimited, StoreUnavailable
from fieldstation.http.responses import JsonResponse
from fieldstation.http.routes import allowed_methods
from fieldstation.intake.refusals import Refusal, Refused

log = logging.getLogger("fieldstation.awt")

MALFORMED = "Malformed request. Please check your parameters are correct."
BAD_KEY = "Unauthorized. Invalid API key or credentials."
BAD_TOKEN = "Unauthorized. Token invalid. Please refresh token."
TAG_NOT_FOUND = "Tag ID not found or you do not have permission to access this resource."
DEVICE_NOT_FOUND = (
    "Device EUI {eui} not found or you do not have permission to access this resource. "
    "Add it with `fieldstation device add`, or turn on auto-registration for the project."
)
RATE_LIMITED = "Rate limit reached - request rejected."
SERVER_ERROR = "Something went wrong on our end. Try again later or contact support."
STORE_DOWN = "Service unavailable: the data store cannot be reached. Try again later."
STORE_RETRY_S = 30


class AwtError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def malformed(detail: str) -> AwtError:
    return AwtError(400, f"{MALFORMED} {detail}")


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JsonResponse:
    return JsonResponse({"error": message}, status_code=status, headers=headers)


def door_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JsonResponse:
    """An error found at the hub's front door (`http.guard`), in AWT's words."""
    return error_response(status, f"{MALFORMED} {message}" if status == 400 else message, headers)


def refusal_response(refused: Refused) -> JsonResponse:
    """What a way in refused (the uplink webhooks served under this API), in AWT's words."""
    why = refused.why
    if why is Refusal.MALFORMED:
        return error_response(400, f"{MALFORMED} {refused.detail}")
    if why is Refusal.UNAUTHORIZED:
        return error_response(401, BAD_KEY)
    if why is Refusal.BAD_SIGNATURE:
        return error_response(401, f"Unauthorized. {refused.detail}")
    if why is Refusal.RATE_LIMITED:
        return error_response(429, RATE_LIMITED, {"Retry-After": str(refused.retry_after_s)})
    if why is Refusal.UNKNOWN_DEVICE:
        return error_response(404, DEVICE_NOT_FOUND.format(eui=refused.detail))
    if why is Refusal.UNAVAILABLE:
        return error_response(503, STORE_DOWN, {"Retry-After": str(STORE_RETRY_S)})
    return error_response(404, refused.detail or "Not found.")


def crashed() -> JsonResponse:
    return error_response(500, SERVER_ERROR)


def response_for(exc: Exception) -> JsonResponse:
    """A failure of an AWT call, in AWT's words (the app's handlers and the front's answer alike)."""
    if isinstance(exc, AwtError):
        return error_response(exc.status, exc.message, exc.headers)
    if isinstance(exc, RateLimited):
        return error_response(429, RATE_LIMITED, {"Retry-After": str(exc.retry_after_s)})
    if isinstance(exc, StoreUnavailable):
        log.error("the store cannot be reached: %s", exc)
        return error_response(503, STORE_DOWN, {"Retry-After": str(STORE_RETRY_S)})
    log.error("an AWT call failed", exc_info=exc)
    return crashed()


def install(app: FastAPI) -> None:
    @app.exception_handler(AwtError)
    async def _awt(_: Request, exc: AwtError) -> JsonResponse:
        return response_for(exc)

    @app.exception_handler(RateLimited)
    async def _rate(_: Request, exc: RateLimited) -> JsonResponse:
        return response_for(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JsonResponse:
        messages = {
            404: "Resource not found. Check the path against the API documentation.",
            405: "Method not allowed on this resource.",
        }
        headers = exc.headers
        if exc.status_code == 405:
            headers = {"Allow": ", ".join(allowed_methods(app.routes, request.scope))}
        return error_response(exc.status_code, messages.get(exc.status_code, str(exc.detail)), headers)

    @app.exception_handler(StoreUnavailable)
    async def _store_down(_: Request, exc: StoreUnavailable) -> JsonResponse:
        return response_for(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JsonResponse:
        return error_response(400, f"{MALFORMED} {exc.errors()[0].get('msg', '')}".strip())

    @app.exception_handler(Exception)
    async def _crash(_: Request, __: Exception) -> JsonResponse:
        return error_response(500, SERVER_ERROR)
