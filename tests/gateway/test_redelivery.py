"""A bridge's broker sends a message again, flagged DUP, when the agent kept it and died before it could
acknowledge it; the agent's client hears the flag, so the store keeps the message once
(`test_agent_parts.test_a_message_sent_again_after_a_crash_is_kept_once`)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from fieldstation.gateway.adapters.mqtt import _Bridge, _Client, _Message
from tests.services import Mosquitto, free_port


async def first_message(port: int) -> _Message:
    """The first message of the agent's persistent session, read and not acknowledged."""
    client = _Client("127.0.0.1", port, identifier="agent-bridge", clean_session=False, timeout=5)
    client._client.manual_ack_set(True)
    async with client:
        await client.subscribe("zigbee2mqtt/#", qos=1)
        async for message in client.messages:
            assert isinstance(message, _Message)
            return message
    raise AssertionError("no message")


def test_a_message_not_acknowledged_comes_again_flagged(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "bridge.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    broker = Mosquitto(tmp_path / "bridge.conf", port)
    broker.start()
    try:
        asyncio.run(
            asyncio.wait_for(_subscribe_once(port), 10)
        )  # the session exists before the sensor speaks
        sensor = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="sensor")  # type: ignore[attr-defined]
        sensor.connect("127.0.0.1", port)
        sensor.loop_start()
        sensor.publish("zigbee2mqtt/counter", '{"n": 1}', qos=1).wait_for_publish(5)
        sensor.loop_stop()
        first = asyncio.run(asyncio.wait_for(first_message(port), 10))
        again = asyncio.run(asyncio.wait_for(first_message(port), 10))  # as after the agent's crash
        assert (first.again, again.again) == (False, True)
        assert again.mid == first.mid and again.payload == first.payload
    finally:
        broker.stop()


async def _subscribe_once(port: int) -> None:
    client = _Client("127.0.0.1", port, identifier="agent-bridge", clean_session=False, timeout=5)
    async with client:
        await client.subscribe("zigbee2mqtt/#", qos=1)


class _Keeper:
    """What a bridge needs of its adapter: an id, a log, and a place for readings (here a list, failing
    for one device as a full disk would)."""

    agent_id = "agent"
    log = logging.getLogger("tests.bridge")

    def __init__(self) -> None:
        self.kept: list[tuple[str, Any]] = []
        self.some = asyncio.Event()

    async def emit(self, device: str, body: Any, delivery: Any) -> None:
        if device == "broken":
            raise OSError("No space left on device")
        self.kept.append((device, body))
        self.some.set()


def test_a_bridge_goes_on_after_a_message_it_cannot_keep(tmp_path: Path) -> None:
    """One device's message nested deeper than the hub takes, or whose reading cannot be kept, used to end
    the bridge's task: no device of the bridge was heard again, even after a restart (the message, never
    acknowledged, came back first and ended it again)."""
    port = free_port()
    (tmp_path / "bridge.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    broker = Mosquitto(tmp_path / "bridge.conf", port)
    broker.start()

    async def scenario() -> list[tuple[str, Any]]:
        keeper = _Keeper()
        bridge = _Bridge(keeper, "127.0.0.1", port, "zigbee2mqtt")  # type: ignore[arg-type]
        bridge.devices = {"deep": "deep", "broken": "broken", "lamp": "lamp"}
        await asyncio.wait_for(bridge.ready.wait(), 10)
        sensor = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="sensor")  # type: ignore[attr-defined]
        sensor.connect("127.0.0.1", port)
        sensor.loop_start()
        deep = '{"a": ' + "[" * 300 + "]" * 300 + "}"
        for topic, body in (("deep", deep), ("broken", '{"n": 1}'), ("lamp", '{"state": "ON"}')):
            sensor.publish(f"zigbee2mqtt/{topic}", body, qos=1).wait_for_publish(5)
        sensor.loop_stop()
        await asyncio.wait_for(keeper.some.wait(), 10)
        alive = not bridge.task.done()
        bridge.task.cancel()
        assert alive
        return keeper.kept

    try:
        assert asyncio.run(scenario()) == [("lamp", {"state": "ON"})]
    finally:
        broker.stop()
