"""The protocols the agent speaks, one module each, all of the shape of `base.Adapter`."""

from __future__ import annotations

from fieldstation.gateway.adapters.base import Adapter
from fieldstation.gateway.adapters.http import HttpAdapter
from fieldstation.gateway.adapters.mqtt import MqttAdapter
from fieldstation.gateway.adapters.virtual import VirtualAdapter
from fieldstation.link.protocols import ZIGBEE

ADAPTERS: dict[str, type[Adapter]] = {a.protocol: a for a in (VirtualAdapter, HttpAdapter, MqttAdapter)}
ADAPTERS[ZIGBEE] = MqttAdapter
"""Zigbee devices are reached through a zigbee2mqtt bridge."""


def adapter_for(protocols: list[str]) -> type[Adapter] | None:
    return next((ADAPTERS[p] for p in protocols if p in ADAPTERS), None)
