"""Network-server body parsers. One module per network server, all of the same shape: a pure function
`parse(body: bytes, query: str) -> Uplink | OtherEvent` that raises `BadBody` with a sentence saying what is
wrong. No sockets, no database, no clock: what arrived in, a typed value out.

    awt      AWT's own `{"payload": hex, "eui"}` (POST /lora)
    ttn      The Things Stack v3 webhooks, and the AWT seed's simplified TTN body
    chirpstack  ChirpStack v4 and v3 HTTP integrations (`?event=`), and the seed's simplified body
    actility ThingPark `DevEUI_uplink` (+ its query-string token), and the seed's simplified body
"""

from fieldstation.networks.types import MAX_BODY_BYTES, MAX_PAYLOAD_BYTES, BadBody, OtherEvent, Uplink

__all__ = ["MAX_BODY_BYTES", "MAX_PAYLOAD_BYTES", "BadBody", "OtherEvent", "Uplink"]
