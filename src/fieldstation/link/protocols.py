"""The protocols a gateway can install, by the ids the hub's catalogue and the agent agree on. Ids are
stable: clients and gateways store them."""

from __future__ import annotations

ZIGBEE = "vRy6GTde"
HTTP = "IuYtREd0"
MQTT = "R2Jh6IhT"
VIRTUAL = "Vq7uAl0x"

SLUGS = {ZIGBEE: "zigbee", HTTP: "http", MQTT: "mqtt", VIRTUAL: "virtual"}
NAMES = {ZIGBEE: "Zigbee", HTTP: "HTTP", MQTT: "MQTT", VIRTUAL: "Virtual"}
