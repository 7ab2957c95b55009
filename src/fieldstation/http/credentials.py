"""Credentials as HTTP carries them."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from fieldstation.core import values
from fieldstation.core.errors import Unauthorized
from fieldstation.core.values import BadValue


def basic_credentials(header: str) -> tuple[str, str]:
    """(username, password) of an `Authorization: Basic` header; Unauthorized when there is none."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise Unauthorized("no Basic credentials")
    try:
        decoded = values.base64_bytes(encoded.strip(), "Basic credentials").decode("utf-8")
    except (BadValue, UnicodeDecodeError) as exc:
        raise Unauthorized("malformed Basic credentials") from exc
    username, colon, secret = decoded.partition(":")
    if not colon:
        raise Unauthorized("malformed Basic credentials")
    return username, secret


def client_address(connection: HTTPConnection) -> str | None:
    """The caller's address (behind a trusted proxy, the one it forwarded)."""
    return None if connection.client is None else connection.client.host
