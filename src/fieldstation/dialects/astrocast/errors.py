"""Astrocast errors: a JSON body `{"message": "..."}` that says what is wrong; 503 with a 15-minute
"try after" as both `Retry-After: 900` and `"retryAfter": 900`, as the seed describes."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fieldstation.http.responses import JsonResponse
from fieldstation.store import UNAVAILABLE

log = logging.getLogger("fieldstation.astrocast")
RETRY_AFTER_S = 900
MAX_BODY = 16 * 1024
"""Command and callback bodies are a few hundred bytes."""


class AstrocastError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object, of at most MAX_BODY bytes."""
    if len(raw) > MAX_BODY:
        raise AstrocastError(400, f"The body is {len(raw)} bytes; the limit is {MAX_BODY}.")
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


def install(app: FastAPI) -> None:
    @app.exception_handler(AstrocastError)
    async def _astrocast(_: Request, exc: AstrocastError) -> JsonResponse:
        if exc.status == 503:
            return unavailable(exc.message)
        return JsonResponse({"message": exc.message}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JsonResponse:
        messages = {
            404: "No such resource in the Astrocast API.",
            405: "Method not allowed on this resource.",
        }
        body = {"message": messages.get(exc.status_code, str(exc.detail))}
        return JsonResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JsonResponse:
        return JsonResponse({"message": f"Bad request: {exc.errors()[0].get('msg', '')}"}, status_code=400)

    for kind in UNAVAILABLE:

        @app.exception_handler(kind)
        async def _store_down(_: Request, exc: Exception) -> JsonResponse:
            log.error("the store cannot be reached: %s", exc)
            return unavailable("The data store cannot be reached.")

    @app.exception_handler(Exception)
    async def _crash(_: Request, __: Exception) -> JsonResponse:
        # Starlette logs the exception after this answer is sent.
        return JsonResponse({"message": "Internal error. Please retry later."}, status_code=500)
