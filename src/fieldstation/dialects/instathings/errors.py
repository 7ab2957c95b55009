"""Instathings errors: the seed's status codes (400, 401, 403, 404, 405, 406, 429, 500, 503), each with a
JSON body `{"message": "..."}` that says what is wrong."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fieldstation.core.errors import RateLimited, StoreUnavailable
from fieldstation.core.values import BadValue
from fieldstation.http.responses import JsonResponse
from fieldstation.http.routes import allowed_methods

T = TypeVar("T")


class InstathingsError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def checked(check: Callable[..., T], value: Any, name: str, **limits: Any) -> T:
    """A value through one of `core.values`' checks; what it refuses is a 400 in Instathings' words."""
    try:
        return check(value, name, **limits)
    except BadValue as exc:
        raise InstathingsError(400, f"Your request is invalid: {exc}.") from None


def door_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JsonResponse:
    """An error found at the hub's front door (`http.guard`), in Instathings's words."""
    return JsonResponse({"message": message}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(InstathingsError)
    async def _instathings(_: Request, exc: InstathingsError) -> JsonResponse:
        return JsonResponse({"message": exc.message}, status_code=exc.status)

    @app.exception_handler(RateLimited)
    async def _rate(_: Request, exc: RateLimited) -> JsonResponse:
        return JsonResponse(
            {"message": "Too many requests! Slow down."},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JsonResponse:
        messages = {
            404: "The specified resource could not be found.",
            405: "You tried to access an endpoint with an invalid method.",
        }
        body = {"message": messages.get(exc.status_code, str(exc.detail))}
        headers = exc.headers
        if exc.status_code == 405:
            headers = {"Allow": ", ".join(allowed_methods(app.routes, request.scope))}
        return JsonResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JsonResponse:
        return JsonResponse(
            {"message": f"Your request is invalid: {exc.errors()[0].get('msg', '')}"}, status_code=400
        )

    @app.exception_handler(StoreUnavailable)
    async def _store_down(_: Request, __: Exception) -> JsonResponse:
        return JsonResponse(
            {"message": "Service is down: the data store cannot be reached."}, status_code=503
        )

    @app.exception_handler(Exception)
    async def _crash(_: Request, __: Exception) -> JsonResponse:
        return JsonResponse(
            {"message": "We had a problem with our server. Try again later."}, status_code=500
        )
