"""The hub's front door: checks that every HTTP request passes before any route sees it, answered in the
error shape of the API the path belongs to.

- A path or query string with control characters (NUL, line breaks, escapes, once percent-decoded) is a
  400: no route, log line or database parameter ever holds one.
- A body is refused from its declared `Content-Length` before a byte of it is read (413); a chunked body is
  counted while it streams and refused as soon as it passes the limit; a `Content-Length` that is not ASCII
  digits is a 400.

A body with a declared length is handed on untouched (the HTTP parser already stops at that length); a
chunked one is read here and handed on whole. Deadlines on headers and bodies are the connection's
(`connection.py`), not a timer per request here.

Each API registers a `Door` (its path prefix, its largest body, its error renderer)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fieldstation.http.websocket_frames import MAX_UNSENT, SERVER_SEND

log = logging.getLogger("fieldstation.http")
ErrorRenderer = Callable[[int, str, Mapping[str, str] | None], Response]
"""(status, message, headers) -> the response in an API's own error shape."""

_CONTROL_TEXT = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")
_DIGITS = re.compile(rb"[0-9]{1,64}")


@dataclass(frozen=True, slots=True)
class Door:
    prefix: str
    """The API's base path, e.g. `/awt/v2`; "" for the hub's own paths."""
    max_body: int
    error: ErrorRenderer


class RequestGuard:
    def __init__(self, app: ASGIApp, doors: Sequence[Door], default: Door, ws_max_unsent: int) -> None:
        self.app = app
        self._ws_max_unsent = ws_max_unsent
        self._doors = sorted(doors, key=lambda door: len(door.prefix), reverse=True)
        self._default = default

    @property
    def state(self) -> object:
        """The wrapped app's state, so that the guard is as transparent as middleware."""
        return getattr(self.app, "state", None)

    def door(self, path: str) -> Door:
        for door in self._doors:
            if path == door.prefix or path.startswith(door.prefix + "/"):
                return door
        return self._default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                scope[SERVER_SEND] = send  # the server's own, before a layer wraps it (http.websocket_frames)
                scope[MAX_UNSENT] = self._ws_max_unsent
            await self.app(scope, receive, send)
            return
        door = self.door(scope["path"])
        problem = _problem_in_target(scope)
        declared, chunked = _body_headers(scope)
        if problem is None and declared is not None and not _DIGITS.fullmatch(declared):
            problem = "Content-Length must be a number of bytes in ASCII digits."
        if problem is not None:
            await _refuse(door, 400, problem, scope, receive, send)
            return
        size = 0 if declared is None else int(declared)
        if size > door.max_body:
            message = f"The body is {size} bytes; the limit is {door.max_body}."
            await _refuse(door, 413, message, scope, receive, send)
            return
        if not chunked or declared is not None:
            await self._forward(scope, receive, send)
            return
        body = await _read_body(receive, door.max_body)
        if body is None:
            message = f"The body is over {door.max_body} bytes, the limit."
            await _refuse(door, 413, message, scope, receive, send)
            return
        await self._forward(scope, _replay(body, receive), send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            # The client left (or was cut off for being too slow) before its body was read: nobody to
            # answer, nothing went wrong here, no traceback for the log.
            log.debug("client %s left before its request was read", scope.get("client"))


def _problem_in_target(scope: Scope) -> str | None:
    if _CONTROL_TEXT.search(scope["path"]):
        return "The path holds control characters (such as a line break or NUL)."
    if _CONTROL_BYTES.search(unquote_to_bytes(scope.get("query_string", b""))):
        return "The query string holds control characters (such as a line break or NUL)."
    return None


def _body_headers(scope: Scope) -> tuple[bytes | None, bool]:
    declared: bytes | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = value.strip()
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    return declared, chunked


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left; the route will see an empty body
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()  # only a disconnect can come now
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(door: Door, status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
    # The body (if any) is left unread: the connection cannot be reused, so say so.
    response = door.error(status, message, {"Connection": "close"})
    await response(scope, receive, send)
