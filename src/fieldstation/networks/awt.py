"""AWT's own format (`POST /lora`): `{"payload": "<hex>", "eui": "<16 hex digits>"}`."""

from __future__ import annotations

from fieldstation.networks.types import OtherEvent, Uplink, hex_eui, load_object, payload_hex, text

NAME = "awt"


def parse(body: bytes, query: str = "") -> Uplink | OtherEvent:
    obj = load_object(body)
    eui = hex_eui(text(obj, "eui") or "", "body.eui")
    return Uplink(eui=eui, payload=payload_hex(text(obj, "payload") or "", "body.payload"))
