"""Astrocast objects, with the field names and order of `specs/astrocast.md`."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from fieldstation.core.models import (
    Command,
    DailyUsage,
    Device,
    DeviceActivity,
    Project,
    StoredUplink,
)
from fieldstation.dialects.astrocast.wire import format_date, format_day

MESSAGE_FIELDS = (
    "messageGuid",
    "deviceGuid",
    "deviceGroupGuid",
    "createdDate",
    "receivedDate",
    "latitude",
    "longitude",
    "data",
    "messageSize",
    "callbackDeliveryStatus",
)
DEVICE_FIELDS = (
    "deviceGuid",
    "name",
    "description",
    "deviceType",
    "deviceState",
    "disabledUntilDate",
    "deviceGroupGuid",
    "modelNumber",
    "serialNumber",
    "firmwareVersion",
    "componentModelNumber",
    "componentSerialNumber",
    "componentFirmwareVersion",
    "protocolVersion",
    "lastMessageDate",
    "lastCommandDate",
    "lastLocationDate",
    "fixedGeolocation",
    "lastLatitude",
    "lastLongitude",
    "registrationEnabled",
    "billingExcluded",
)
SUMMARY_FIELDS = (
    "deviceGuid",
    "customerGuid",
    "deviceTypeId",
    "summaryDate",
    "messagesCount",
    "messagesSize",
    "commandsCount",
    "commandsSize",
)
COMMAND_FIELDS = (
    "commandGuid",
    "commandReference",
    "deviceGuid",
    "createdDate",
    "expirationDate",
    "receivedDate",
    "ackReceivedDate",
    "cancelledDate",
    "commandData",
    "commandSize",
    "commandStatus",
)
DEVICE_TYPE_FIELDS = ("deviceTypeId", "name")
DEVICE_TYPES: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (0, "Unknown", ()),
    (1, "Astronode S", ("astronode", "astronode s")),
    (2, "Astronode DevKit", ("astronode devkit",)),
    (3, "LoRaWAN", ("lora", "lorawan")),
    (4, "Gateway", ("gateway",)),
)
"""`/enums/devicetypes`. A device's type is found from its `device_type` text."""
CALLBACK_NOT_APPLICABLE = 0
"""`callbackDeliveryStatus`: fieldstation pushes no callbacks of its own; every message says 0."""
DEVICE_ACTIVE = 1


def device_type_id(device: Device) -> int:
    name = device.device_type.strip().lower()
    return next((type_id for type_id, _, names in DEVICE_TYPES if name in names), 0)


def customer_guid(project: Project) -> str:
    """A stable GUID for the project, the tenant Astrocast calls customer."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fieldstation:project:{project.short_id}"))


def message_object(uplink: StoredUplink) -> dict[str, Any]:
    return {
        "messageGuid": uplink.uid,
        "deviceGuid": uplink.device_guid,
        "deviceGroupGuid": None,
        "createdDate": format_date(uplink.time_us),
        "receivedDate": format_date(uplink.received_us),
        "latitude": uplink.latitude,
        "longitude": uplink.longitude,
        "data": base64.b64encode(uplink.payload).decode(),
        "messageSize": len(uplink.payload),
        "callbackDeliveryStatus": CALLBACK_NOT_APPLICABLE,
    }


def device_object(device: Device, activity: DeviceActivity) -> dict[str, Any]:
    return {
        "deviceGuid": device.guid,
        "name": device.name,
        "description": device.asset,
        "deviceType": device_type_id(device),
        "deviceState": DEVICE_ACTIVE,
        "disabledUntilDate": None,
        "deviceGroupGuid": None,
        "modelNumber": device.device_type,
        "serialNumber": device.eui,
        "firmwareVersion": None if device.software_version is None else str(device.software_version),
        "componentModelNumber": None,
        "componentSerialNumber": None,
        "componentFirmwareVersion": None,
        "protocolVersion": 1,
        "lastMessageDate": format_date(activity.last_message_us),
        "lastCommandDate": format_date(activity.last_command_us),
        "lastLocationDate": format_date(activity.last_location_us),
        "fixedGeolocation": False,
        "lastLatitude": activity.last_latitude,
        "lastLongitude": activity.last_longitude,
        "registrationEnabled": True,
        "billingExcluded": False,
    }


def summary_object(usage: DailyUsage, device: Device, project: Project) -> dict[str, Any]:
    return {
        "deviceGuid": device.guid,
        "customerGuid": customer_guid(project),
        "deviceTypeId": device_type_id(device),
        "summaryDate": format_day(usage.day_us),
        "messagesCount": usage.messages_count,
        "messagesSize": usage.messages_size,
        "commandsCount": usage.commands_count,
        "commandsSize": usage.commands_size,
    }


def command_object(command: Command) -> dict[str, Any]:
    return {
        "commandGuid": command.guid,
        "commandReference": command.reference,
        "deviceGuid": command.device_guid,
        "createdDate": format_date(command.created_us),
        "expirationDate": format_date(command.expires_us),
        "receivedDate": format_date(command.received_us),
        "ackReceivedDate": format_date(command.acknowledged_us),
        "cancelledDate": format_date(command.cancelled_us),
        "commandData": base64.b64encode(command.data).decode(),
        "commandSize": len(command.data),
        "commandStatus": int(command.status),
    }


def device_type_objects() -> list[dict[str, Any]]:
    return [{"deviceTypeId": type_id, "name": name} for type_id, name, _ in DEVICE_TYPES]
