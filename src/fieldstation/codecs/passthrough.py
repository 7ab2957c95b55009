"""`passthrough`: the payload is kept with its uplink and nothing is read from it. For devices whose
payloads a client decodes itself."""

from __future__ import annotations

from fieldstation.core.models import Decoded

NAME = "passthrough"


def decode(payload: bytes, received_us: int) -> Decoded:
    return Decoded()
