"""Instathings objects, shaped as the seed shows them. Times: `ts` in epoch milliseconds, `ttl` in epoch
seconds."""

from __future__ import annotations

from typing import Any

from fieldstation.core.clock import MICROS
from fieldstation.core.models import Device, Operation, Project, Reading
from fieldstation.core.operations import OPERATION_TTL_S
from fieldstation.core.retention import expires_s
from fieldstation.core.virtual import NOT_APPLICABLE


def device_object(
    device: Device, project: Project, by_id: dict[int, Device], *, expand: bool = False
) -> dict[str, Any]:
    obj: dict[str, Any] = {"projectId": project.short_id, "ts": device.created_us // 1000}
    if device.is_gateway:
        children = [d for d in by_id.values() if d.parent_id == device.id]
        obj["subDevices"] = [device_object(c, project, by_id) if expand else c.short_id for c in children]
    obj |= {"isVirtual": device.is_virtual, "demoActive": device.demo_active}
    if device.parent_id is not None and device.parent_id in by_id:
        obj["parentDevice"] = by_id[device.parent_id].short_id
    obj |= {"id": device.short_id, "isGateway": device.is_gateway, "name": device.name}
    if device.type_id is not None:
        obj["type"] = device.type_id
    if device.protocols:
        obj["protocols"] = list(device.protocols)
    if device.is_virtual:
        obj["frequency"] = device.frequency_s
    if device.parameters:
        obj["parameters"] = dict(device.parameters)
    if device.is_gateway and device.link_state:
        # What the hub last heard of the gateway's link: its session, software and outbox.
        for field, key in (("status", "status"), ("versions", "version"), ("outbox", "outbox")):
            if device.link_state.get(field) is not None:
                obj[key] = device.link_state[field]
    return obj


GATEWAY_EVENTS = frozenset({"connected", "disconnected", "software_version"})
PAIRING_EVENTS = frozenset({"discovering", "paired", "not_paired"})


def gateway_event(payload: dict[str, Any], project: Project, env: str) -> dict[str, Any]:
    """A gateway's session and pairing events, as the seed shows them: the device's information, with the
    event in `status`."""
    obj: dict[str, Any] = {"projectId": project.short_id, "ts": payload["ts_ms"]}
    if payload["is_gateway"]:
        obj["stats"] = {"ingestion": 0}
        if payload.get("versions") is not None:
            obj["version"] = payload["versions"]
        obj["certificateId"] = payload.get("certificate_id")
        obj["subDevices"] = payload["sub_devices"]
    obj["status"] = payload.get("status") or {}
    if payload.get("parent") is not None:
        obj["parentDevice"] = payload["parent"]
    if payload["is_gateway"]:
        obj["protocols"] = payload["protocols"]
    obj |= {"id": payload["device"], "env": env, "isGateway": payload["is_gateway"], "name": payload["name"]}
    if payload.get("type") is not None:
        obj["type"] = payload["type"]
    return obj


def data_record(reading: Reading, meta: dict[str, Any], device: Device, project: Project) -> dict[str, Any]:
    return {
        "ts": reading.time_us // 1000,
        "deviceId": device.short_id,
        "data": reading_data(reading.values, reading.latitude, reading.longitude, reading.error),
        "ttl": expires_s(project, reading.inserted_us),
        "principal": meta.get("principal") or NOT_APPLICABLE,
        "id": reading.uid,
        "clientId": meta.get("client_id") or NOT_APPLICABLE,
    }


def data_event(payload: dict[str, Any], project: Project) -> dict[str, Any]:
    return {
        "id": payload["uid"],
        "clientId": payload.get("client_id") or NOT_APPLICABLE,
        "principal": payload.get("principal") or NOT_APPLICABLE,
        "ts": payload["time_us"] // 1000,
        "ttl": expires_s(project, payload["inserted_us"]),
        "deviceId": payload["device"],
        "data": reading_data(
            payload["values"], payload.get("latitude"), payload.get("longitude"), payload.get("error")
        ),
    }


def reading_data(
    values: dict[str, Any], latitude: float | None, longitude: float | None, error: str | None
) -> dict[str, Any]:
    """A record's `data`: what the device's payload said, with the reading's position (a tracker's fix, or
    where the network located a modem) and, for a payload that could not be read, its `error`."""
    data = dict(values)
    if latitude is not None and longitude is not None:
        data["latitude"], data["longitude"] = latitude, longitude
    if error is not None:
        data["error"] = error
    return data


def operation_object(operation: Operation, device: Device, project: Project) -> dict[str, Any]:
    return {
        "projectId": project.short_id,
        "response": operation.response,
        "ttl": operation.created_us // MICROS + OPERATION_TTL_S,
        "deviceId": device.short_id,
        "id": operation.short_id,
    }


def log_entry(line: dict[str, Any]) -> dict[str, Any]:
    """A log line as the `log` event carries it."""
    return {"message": line["message"], "type": line["kind"], "timestamp": line["logged_us"] // 1000}
