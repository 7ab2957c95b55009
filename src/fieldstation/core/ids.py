"""Identifiers and secrets. Short ids are the 8 URL-safe characters Instathings shows."""

from __future__ import annotations

import secrets
import uuid

_URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def short_id(length: int = 8) -> str:
    return "".join(secrets.choice(_URL_SAFE) for _ in range(length))


def guid() -> str:
    return str(uuid.uuid4())


def api_secret(nbytes: int = 32) -> str:
    """A secret to show once: 256 bits, URL-safe, no padding."""
    return secrets.token_urlsafe(nbytes)


def password(nbytes: int = 18) -> str:
    return secrets.token_urlsafe(nbytes)
