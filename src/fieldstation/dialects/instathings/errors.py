"""Instathings errors: the seed's status codes (400, 401, 403, 404, 405, 406, 429, 500, 503), each with a
JSON body `{"message": "..."}` that says what is wrong."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fieldstation.core.errors import RateLimited
from fieldstation.http.responses import JsonResponse
from fieldstation.store import UNAVAILABLE


class InstathingsError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
    async def _http(_: Request, exc: StarletteHTTPException) -> JsonResponse:
        messages = {
            404: "The specified resource could not be found.",
            405: "You tried to access an endpoint with an invalid method.",
        }
        body = {"message": messages.get(exc.status_code, str(exc.detail))}
        return JsonResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JsonResponse:
        return JsonResponse(
            {"message": f"Your request is invalid: {exc.errors()[0].get('msg', '')}"}, status_code=400
        )

    for kind in UNAVAILABLE:

        @app.exception_handler(kind)
        async def _store_down(_: Request, __: Exception) -> JsonResponse:
            return JsonResponse(
                {"message": "Service is down: the data store cannot be reached."}, status_code=503
            )

    @app.exception_handler(Exception)
    async def _crash(_: Request, __: Exception) -> JsonResponse:
        return JsonResponse(
            {"message": "We had a problem with our server. Try again later."}, status_code=500
        )
