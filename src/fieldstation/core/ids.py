"""Identifiers and secrets. Short ids are the 8 URL-safe characters Instathings shows."""

from __future__ import annotations

import random
import secrets
import time
import uuid

_URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def short_id(length: int = 8) -> str:
    return "".join(secrets.choice(_URL_SAFE) for _ in range(length))


def guid() -> str:
    return str(uuid.uuid4())


_random = random.Random(secrets.randbits(128))
_last = [0, 0]


def ordered_guid() -> str:
    """A UUID version 7: milliseconds since the epoch, then a counter and random bits. Rows keyed by it
    are inserted at the end of their index, not at a random place (one page written, not one per row),
    and making one needs no system call."""
    now_ms = time.time_ns() // 1_000_000
    if now_ms <= _last[0]:
        now_ms, _last[1] = _last[0], _last[1] + 1
    else:
        _last[0], _last[1] = now_ms, _random.getrandbits(10)
    value = (now_ms & (2**48 - 1)) << 80 | 0x7 << 76 | (_last[1] & 0xFFF) << 64 | 0b10 << 62
    value |= _random.getrandbits(62)
    return str(uuid.UUID(int=value))


def api_secret(nbytes: int = 32) -> str:
    """A secret to show once: 256 bits, URL-safe, no padding."""
    return secrets.token_urlsafe(nbytes)


def password(nbytes: int = 18) -> str:
    return secrets.token_urlsafe(nbytes)
