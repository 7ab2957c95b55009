"""A bridge's broker sends a message again, flagged DUP, when the agent kept it and died before it could
acknowledge it; the agent's client hears the flag, so the store keeps the message once
(`test_agent_parts.test_a_message_sent_again_after_a_crash_is_kept_once`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import paho.mqtt.client as paho

from fieldstation.gateway.adapters.mqtt import _Client, _Message
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
