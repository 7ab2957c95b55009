"""Who is signed in, and proof that a form came from the portal's own pages.

The session cookie holds a random token (the store keeps its SHA-256): HttpOnly, SameSite=Lax, scoped to
the portal's path, and Secure whenever the request came over HTTPS (directly, or through a proxy that
says so). Every form that changes something carries the session's CSRF token, compared in constant time,
and a request whose Origin header names another site is refused. The sign-in form, before there is a
session, uses a double-submit cookie instead."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from fieldstation.core.hub import Hub
from fieldstation.core.models import OperatorSession, Project
from fieldstation.core.operators import SESSION_S

SESSION_COOKIE = "fieldstation_session"
SIGN_IN_COOKIE = "fieldstation_sign_in"
MIN_FORM_TOKEN = 20
"""A form token shorter than this is none (a sign-in without its cookie must not match a form's own value)."""
MAX_FORM_FIELDS = 32
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class FormRefused(Exception):
    """A form that is not the portal's own (no or wrong CSRF token, another site's Origin, not a form)."""


def content_security_policy(tiles: str | None) -> str:
    """Everything from the hub itself; images also from the configured tile source."""
    tile_origin = ""
    if tiles and "://" in tiles:
        scheme, rest = tiles.split("://", 1)
        tile_origin = " " + f"{scheme}://{rest.split('/', 1)[0]}".replace("{s}", "*")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data:{tile_origin}; connect-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    )


def is_https(connection: HTTPConnection) -> bool:
    return connection.url.scheme in ("https", "wss")


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_S,
        path="/portal",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/portal", httponly=True, samesite="lax", secure=is_https(request)
    )


def sign_in_token(request: Request) -> str:
    """The double-submit token of the sign-in form: the cookie's, or a new one."""
    token = request.cookies.get(SIGN_IN_COOKIE, "")
    return token if MIN_FORM_TOKEN <= len(token) <= 64 else secrets.token_urlsafe(24)


def set_sign_in_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SIGN_IN_COOKIE, token, path="/portal", httponly=True, samesite="strict", secure=is_https(request)
    )


async def session_of(connection: HTTPConnection, hub: Hub) -> OperatorSession | None:
    token = connection.cookies.get(SESSION_COOKIE)
    return None if not token else await hub.operators.session(token)


def same_origin(connection: HTTPConnection) -> bool:
    """False when the browser says the request comes from another site (absent Origin: not a browser's
    cross-site request, which always carries one)."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    host = connection.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


async def read_form(request: Request, expected_token: str) -> dict[str, str]:
    """The form's fields, once its Origin and CSRF token are the portal's own."""
    if not same_origin(request):
        raise FormRefused("the form was sent from another site")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise FormRefused("not a form")
    try:
        text = (await request.body()).decode("utf-8")
        fields = dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormRefused("the form could not be read") from exc
    if len(expected_token) < MIN_FORM_TOKEN or not hmac.compare_digest(
        fields.get("csrf", "").encode(), expected_token.encode()
    ):
        raise FormRefused("the form's token is missing or stale: reload the page and try again")
    return fields


def visible(session: OperatorSession, project: Project) -> bool:
    return session.operator.is_admin or project.id in session.operator.project_ids


PageHandler = Callable[[Request], Awaitable[Response]]
