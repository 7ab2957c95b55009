"""Network-server body parsers. One module per network server, all of the same shape: a pure function
`parse(body: bytes, query: str) -> Uplink | OtherEvent` that raises `BadBody` with a sentence saying what is
wrong. No sockets, no database, no clock: what arrived in, a typed value out. Each is registered below as a
`Network`, with the signature it checks, if any.

    awt      AWT's own `{"payload": hex, "eui"}` (POST /lora)
    ttn      The Things Stack v3 webhooks, and the AWT seed's simplified TTN body
    chirpstack  ChirpStack v4 and v3 HTTP integrations (`?event=`), and the seed's simplified body
    actility ThingPark `DevEUI_uplink` (+ its query-string token), and the seed's simplified body
"""

from fieldstation.networks import actility, awt, chirpstack, ttn
from fieldstation.networks.types import (
    MAX_BODY_BYTES,
    MAX_PAYLOAD_BYTES,
    BadBody,
    BadSignature,
    Network,
    OtherEvent,
    Signature,
    Uplink,
)


def _first_paragraph(text: str | None) -> str:
    return (text or "").split("\n\n", 1)[0]


AWT = Network(awt.NAME, awt.parse, description=_first_paragraph(awt.__doc__))
TTN = Network(ttn.NAME, ttn.parse, description=_first_paragraph(ttn.__doc__))
CHIRPSTACK = Network(chirpstack.NAME, chirpstack.parse, description=_first_paragraph(chirpstack.__doc__))
ACTILITY = Network(
    actility.NAME,
    actility.parse,
    Signature(actility.AS_KEY_SETTING, actility.check_token),
    _first_paragraph(actility.__doc__),
)
NETWORKS = (AWT, TTN, CHIRPSTACK, ACTILITY)

__all__ = [
    "ACTILITY",
    "AWT",
    "CHIRPSTACK",
    "MAX_BODY_BYTES",
    "MAX_PAYLOAD_BYTES",
    "NETWORKS",
    "TTN",
    "BadBody",
    "BadSignature",
    "Network",
    "OtherEvent",
    "Signature",
    "Uplink",
]
