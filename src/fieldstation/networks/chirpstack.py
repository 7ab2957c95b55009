"""ChirpStack HTTP integrations: v4 (`deviceInfo.devEui`) and v3 (top-level `devEUI`, hex or base64),
both posted as `?event=<type>`. Only `up` is an uplink; the other events are acknowledged, with what is
worth keeping (a `status` event's battery level). Without `event` (the AWT seed's simplified body) the
body is an uplink."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fieldstation.networks.types import (
    MAX_F_PORT,
    BadBody,
    OtherEvent,
    Uplink,
    eui_hex_or_base64,
    hex_eui,
    integer,
    iso_time_us,
    load_object,
    payload_base64,
    text,
)

NAME = "chirpstack"
EVENTS = ("up", "join", "ack", "txack", "log", "status", "location", "integration")
_STATUS_FIELDS = ("batteryLevel", "batteryLevelUnavailable", "margin", "externalPowerSource", "battery")


def parse(body: bytes, query: str = "") -> Uplink | OtherEvent:
    events = parse_qs(query).get("event", ["up"])
    event = events[0]
    if event not in EVENTS:
        raise BadBody(f"unknown event {event!r}; ChirpStack sends {', '.join(EVENTS)}")
    obj = load_object(body)
    v4 = "deviceInfo" in obj
    eui = _eui(obj, v4)
    if event != "up":
        meta = {key: obj[key] for key in _STATUS_FIELDS if key in obj} if event == "status" else {}
        return OtherEvent(kind=event, eui=eui, meta=meta)
    if eui is None:
        raise BadBody("body.deviceInfo.devEui is missing" if v4 else "body.devEUI is missing")
    data = text(obj, "data", required=False)
    received_by = obj.get("rxInfo")
    rx_info = [rx for rx in received_by if isinstance(rx, dict)] if isinstance(received_by, list) else []
    received = obj.get("time")
    if received is None and rx_info:
        received = rx_info[0].get("nsTime", rx_info[0].get("time"))
    return Uplink(
        eui=eui,
        payload=b"" if data is None else payload_base64(data, "body.data"),
        f_cnt=integer(obj, "fCnt") or 0,
        f_port=integer(obj, "fPort", maximum=MAX_F_PORT),
        received_us=iso_time_us(received, "body.time"),
        meta=_meta(obj, rx_info, v4),
    )


def _eui(obj: dict[str, Any], v4: bool) -> str | None:
    if v4:
        info = obj["deviceInfo"]
        if not isinstance(info, dict):
            raise BadBody("body.deviceInfo must be an object")
        value = text(info, "devEui", "body.deviceInfo", required=False)
        return None if value is None else hex_eui(value, "body.deviceInfo.devEui")
    value = text(obj, "devEUI", required=False)
    return None if value is None else eui_hex_or_base64(value, "body.devEUI")


def _meta(obj: dict[str, Any], rx_info: list[dict[str, Any]], v4: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"network": NAME, "version": 4 if v4 else 3}
    gateways = [
        {
            "id": rx.get("gatewayId", rx.get("gatewayID")),
            "rssi": rx.get("rssi"),
            "snr": rx.get("snr", rx.get("loRaSNR")),
        }
        for rx in rx_info
    ]
    if gateways:
        meta["gateways"] = gateways
    if isinstance(obj.get("deduplicationId"), str):
        meta["deduplication_id"] = obj["deduplicationId"]
    if isinstance(obj.get("object"), dict):
        meta["decoded_payload"] = obj["object"]
    return meta
