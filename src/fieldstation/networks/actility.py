"""ThingPark (Actility) `DevEUI_uplink`: the raw payload in `payload_hex`, numbers as numbers or (older
versions) as strings. The AWT seed's simplified `{"DevEUI", "payload": base64}` is accepted too.

ThingPark signs each uplink in the query string; `check_token` verifies it for a project that configures
its AS key."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fieldstation.networks.types import (
    MAX_F_PORT,
    BadBody,
    BadSignature,
    OtherEvent,
    Uplink,
    hex_eui,
    integer,
    iso_time_us,
    load_object,
    payload_base64,
    payload_hex,
    text,
)

NAME = "actility"
AS_KEY_SETTING = "actility_as_key"
"""Project setting: ThingPark's AS key. When set, an uplink must carry a valid Token."""
UPLINK = "DevEUI_uplink"
OTHER_MESSAGES = (
    "DevEUI_location",
    "DevEUI_notification",
    "DevEUI_downlink_Sent",
    "DevEUI_downlink_Rejected",
)
TOKEN_MARK = "&Token="


class BadToken(BadSignature):
    """The ThingPark token is missing or does not match the project's AS key."""


def parse(body: bytes, query: str = "") -> Uplink | OtherEvent:
    obj = load_object(body)
    if UPLINK not in obj:
        kind = next((name for name in OTHER_MESSAGES if name in obj), None)
        if kind is not None:
            inner = obj[kind] if isinstance(obj[kind], dict) else {}
            eui = inner.get("DevEUI")
            return OtherEvent(
                kind=kind, eui=hex_eui(eui, f"body.{kind}.DevEUI") if isinstance(eui, str) else None
            )
        if "DevEUI" in obj:
            return _simplified(obj)
        raise BadBody(f"body has no {UPLINK}, nor any other message ThingPark sends")
    uplink = obj[UPLINK]
    where = f"body.{UPLINK}"
    if not isinstance(uplink, dict):
        raise BadBody(f"{where} must be an object")
    eui = hex_eui(text(uplink, "DevEUI", where) or "", f"{where}.DevEUI")
    raw_hex = text(uplink, "payload_hex", where, required=False)
    return Uplink(
        eui=eui,
        payload=b"" if raw_hex is None else payload_hex(raw_hex, f"{where}.payload_hex"),
        f_cnt=integer(uplink, "FCntUp", where, lenient=True),
        f_port=integer(uplink, "FPort", where, lenient=True, maximum=MAX_F_PORT),
        received_us=iso_time_us(uplink.get("Time"), f"{where}.Time"),
        meta=_meta(uplink),
    )


def _simplified(obj: dict[str, Any]) -> Uplink:
    eui = hex_eui(text(obj, "DevEUI") or "", "body.DevEUI")
    return Uplink(
        eui=eui, payload=payload_base64(text(obj, "payload") or "", "body.payload"), meta={"network": NAME}
    )


def _meta(uplink: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"network": NAME}
    for source, target in (("Lrrid", "gateway"), ("LrrRSSI", "rssi"), ("LrrSNR", "snr"), ("SpFact", "sf")):
        if uplink.get(source) is not None:
            meta[target] = uplink[source]
    if isinstance(uplink.get("payload"), dict):
        meta["decoded_payload"] = uplink["payload"]
    return meta


def expected_token(uplink: dict[str, Any], query: str, as_key: str) -> str:
    """sha256_hex(CustomerID + DevEUI + FPort + FCntUp + payload_hex + query before `&Token=` + AS key),
    each field as ThingPark wrote it (a number or a string of digits reads the same)."""
    signed_query = query.split(TOKEN_MARK, 1)[0]
    fields = [uplink.get(name, "") for name in ("CustomerID", "DevEUI", "FPort", "FCntUp", "payload_hex")]
    material = "".join(str(value) for value in fields) + signed_query + as_key
    return hashlib.sha256(material.encode()).hexdigest()


def check_token(body: bytes, query: str, as_key: str) -> None:
    """Raise BadToken unless the raw query string carries the token ThingPark computes for this body. The
    raw query is used as received: a `+` in `Time` is part of what was signed, not a space."""
    if TOKEN_MARK not in query:
        raise BadToken("the query string has no ThingPark Token")
    token = query.split(TOKEN_MARK, 1)[1].split("&", 1)[0].lower()
    uplink = load_object(body).get(UPLINK)
    if not isinstance(uplink, dict):
        raise BadToken(f"only a {UPLINK} carries a token")
    if not hmac.compare_digest(token, expected_token(uplink, query, as_key)):
        raise BadToken("the ThingPark Token does not match this project's AS key")
