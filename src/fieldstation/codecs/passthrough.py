"""`passthrough`: nothing is read from the payload; its bytes are the reading's one value (`payload`, in
base64), so that every view shows them. For devices whose payloads a client decodes itself."""

from __future__ import annotations

import base64

from fieldstation.core.models import Decoded

NAME = "passthrough"


def decode(payload: bytes, received_us: int) -> Decoded:
    return Decoded(values={"payload": base64.b64encode(payload).decode()})
