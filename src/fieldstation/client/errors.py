"""What a client call raises: the vendor's answer kept whole, so a caller can read its error body."""

from __future__ import annotations

from typing import Any

import httpx
import orjson


class ApiError(Exception):
    """The API answered with a status of 400 or more (after the retries the client makes itself: a 429 or a
    503 with `Retry-After`, a token refreshed once on 401). `body` is the decoded JSON error body when there
    is one (AWT `{"error": ...}`, Astrocast `{"message": ...}`, Instathings `{"message": ..., "code": ...}`),
    else the text."""

    def __init__(self, method: str, url: str, status: int, body: Any, headers: httpx.Headers) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        self.headers = headers
        super().__init__(f"{method} {url} answered {status}: {_summary(body)}")

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        body: Any
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = response.text
        request = response.request
        return cls(request.method, str(request.url), response.status_code, body, response.headers)


class UnexpectedAnswer(ApiError):
    """A success whose body is not what the API documents (not JSON, or not the list or object it gives):
    a proxy's page, a server of another kind at that URL."""

    @classmethod
    def of(cls, response: httpx.Response, expected: str = "JSON") -> UnexpectedAnswer:
        request = response.request
        text = response.text[:200]
        return cls(
            request.method,
            str(request.url),
            response.status_code,
            f"not {expected}: {text!r}",
            response.headers,
        )


class GaveUp(Exception):
    """The client waited as told (Retry-After) and retried, and the API still refused."""


def _summary(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key])
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    return text[:200]
