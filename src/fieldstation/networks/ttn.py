"""The Things Stack v3 webhooks. An uplink is a body with `uplink_message`; the other message types a TTS
webhook can be set to deliver are acknowledged. The AWT seed's simplified body is a subset of the real one.

Empty, zero and false fields are omitted by TTS: a missing `f_port` or `f_cnt` means 0."""

from __future__ import annotations

from typing import Any

from fieldstation.networks.types import (
    MAX_F_PORT,
    BadBody,
    OtherEvent,
    Uplink,
    child,
    hex_eui,
    integer,
    iso_time_us,
    load_object,
    payload_base64,
    text,
)

NAME = "ttn"
OTHER_MESSAGES = (
    "join_accept",
    "downlink_ack",
    "downlink_nack",
    "downlink_sent",
    "downlink_failed",
    "downlink_queued",
    "downlink_queue_invalidated",
    "location_solved",
    "service_data",
    "uplink_normalized",
)


def parse(body: bytes, query: str = "") -> Uplink | OtherEvent:
    obj = load_object(body)
    ids = child(obj, "end_device_ids")
    eui_text = text(ids, "dev_eui", "body.end_device_ids", required="uplink_message" in obj)
    eui = None if eui_text is None else hex_eui(eui_text, "body.end_device_ids.dev_eui")
    if "uplink_message" not in obj:
        kind = next((name for name in OTHER_MESSAGES if name in obj), None)
        if kind is None:
            raise BadBody("body has no uplink_message, nor any other message type The Things Stack sends")
        return OtherEvent(kind=kind, eui=eui)
    assert eui is not None
    message = child(obj, "uplink_message")
    where = "body.uplink_message"
    payload = payload_base64(
        text(message, "frm_payload", where, required=False) or "", f"{where}.frm_payload"
    )
    received = message.get("received_at", obj.get("received_at"))
    return Uplink(
        eui=eui,
        payload=payload,
        f_cnt=integer(message, "f_cnt", where) or 0,
        f_port=integer(message, "f_port", where, maximum=MAX_F_PORT) or 0,
        received_us=iso_time_us(received, f"{where}.received_at"),
        meta=_meta(ids, message),
    )


def _meta(ids: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"network": NAME}
    if isinstance(ids.get("device_id"), str):
        meta["device_id"] = ids["device_id"]
    gateways = []
    received_by = message.get("rx_metadata")
    for rx in received_by if isinstance(received_by, list) else []:
        if isinstance(rx, dict):
            gateway = rx.get("gateway_ids")
            gateway = gateway if isinstance(gateway, dict) else {}
            gateways.append({"id": gateway.get("gateway_id"), "rssi": rx.get("rssi"), "snr": rx.get("snr")})
    if gateways:
        meta["gateways"] = gateways
    settings = message.get("settings")
    if isinstance(settings, dict) and settings.get("frequency") is not None:
        meta["frequency"] = settings["frequency"]
    if isinstance(message.get("decoded_payload"), dict):
        meta["decoded_payload"] = message["decoded_payload"]
    return meta
