"""The protocols and device types the gateway agent supports: virtual devices, HTTP devices (smart plugs),
MQTT bridges (Zigbee through zigbee2mqtt). Ids are stable: clients and gateways store them."""

from __future__ import annotations

from typing import Any

from fieldstation.link.protocols import HTTP, MQTT, NAMES, SLUGS, VIRTUAL, ZIGBEE

PROTOCOLS: dict[str, dict[str, str]] = {
    protocol: {"id": protocol, "name": NAMES[protocol], "slug": SLUGS[protocol]}
    for protocol in (ZIGBEE, HTTP, MQTT, VIRTUAL)
}

GATEWAY_TYPE = "4023bd5d-9f88-4761-97c2-0e682aef5437"
_OFFICE = [
    "closed-office",
    "meeting-room",
    "toilet",
    "archive",
    "living-room",
    "bedroom",
    "kitchen",
    "open-space",
]


def _type(type_id: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "addOn": None,
        "description": "",
        "fakeSampleLabel": "value",
        "id": type_id,
        "manufacturer": "",
        "model": "",
        "pairingMethods": [],
        "physicalParameter": [],
        "protocols": [],
        "rooms": _OFFICE,
        "space": ["workspace", "home"],
        "type": "sensor",
    }
    return base | fields


TYPES: dict[str, dict[str, Any]] = {
    t["id"]: t
    for t in (
        _type(
            GATEWAY_TYPE,
            addOn="fieldstation-gateway",
            description="fieldstation gateway agent",
            manufacturer="fieldstation",
            model="gateway",
            protocols=[HTTP, MQTT, ZIGBEE, VIRTUAL],
            type="gateway",
        ),
        _type(
            "4023br5d-9f88-4f31-97c2-0e682aef543f",
            addOn="@instathings/gate-addon-zigbee",
            description="Hue white and color ambiance",
            fakeSampleLabel="onoff",
            manufacturer="Philips",
            model="9290012573A",
            pairingMethods=["touchlink"],
            protocols=[ZIGBEE],
            type="sensor",
        ),
        _type(
            "01c2fd9f-fb3a-45cf-8be3-97e00b7510c6",
            addOn="fieldstation-http",
            description="Shelly Plug S smart plug",
            fakeSampleLabel="power",
            manufacturer="Shelly",
            model="SHPLG-S",
            pairingMethods=["ip-address"],
            protocols=[HTTP],
            type="actuator",
        ),
        _type(
            "7e1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7",
            addOn="fieldstation-mqtt",
            description="Any zigbee2mqtt device, bridged over MQTT",
            manufacturer="zigbee2mqtt",
            model="bridge",
            pairingMethods=["permit-join"],
            protocols=[MQTT, ZIGBEE],
        ),
        _type(
            "5f0d7b9a-0c1e-4d2f-9a3b-4c5d6e7f8a9b",
            addOn="fieldstation-virtual",
            description="Virtual sensor generating demo data",
            manufacturer="fieldstation",
            model="virtual",
            protocols=[VIRTUAL],
        ),
    )
}
