"""A stand-in for a zigbee2mqtt bridge on a plain local broker: it lists no devices, answers a permit-join
request with the interview of a new lamp, publishes the lamp's state, answers `get`, and obeys `set`."""

from __future__ import annotations

import json
import threading
from typing import Any

import paho.mqtt.client as paho

BASE = "zigbee2mqtt"


class Bridge:
    def __init__(self, port: int, name: str = "lamp") -> None:
        self.name = name
        self.state: dict[str, Any] = {"state": "OFF", "brightness": 120}
        self.commands: list[dict[str, Any]] = []
        self.joined = threading.Event()
        self._client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="z2m")  # type: ignore[attr-defined]
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(f"{BASE}/bridge/request/#", qos=1)
        self._client.subscribe(f"{BASE}/{name}/set", qos=1)
        self._client.subscribe(f"{BASE}/{name}/get", qos=1)
        self._client.loop_start()
        self._client.publish(f"{BASE}/bridge/devices", "[]", qos=1, retain=True)

    def _on_message(self, client: paho.Client, _: object, message: paho.MQTTMessage) -> None:
        body = json.loads(message.payload or b"{}")
        if message.topic == f"{BASE}/bridge/request/permit_join" and body.get("value"):
            event = {"type": "device_interview", "data": {"friendly_name": self.name, "status": "successful"}}
            client.publish(f"{BASE}/bridge/event", json.dumps(event), qos=1)
            self.joined.set()
            self._publish_state()
        elif message.topic.endswith("/set"):
            self.commands.append(body)
            self.state.update(body)
            self._publish_state()
        elif message.topic.endswith("/get"):
            self._publish_state()

    def _publish_state(self) -> None:
        self._client.publish(f"{BASE}/{self.name}", json.dumps(self.state), qos=1)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()
