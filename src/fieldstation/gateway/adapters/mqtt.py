"""Devices behind a zigbee2mqtt-style bridge on a local broker. Parameters: `friendlyName`, and optionally
`broker` (`mqtt://host:port`, default `mqtt://127.0.0.1:1883`) and `base` (the bridge's base topic,
default `zigbee2mqtt`).

`{base}/{friendlyName}` is the device's data, `{base}/{friendlyName}/set` takes control messages and
`{base}/{friendlyName}/get` status requests (the answer is the device's next message). Pairing asks the
bridge to permit joining (`{base}/bridge/request/permit_join`) and waits for its `device_interview` event;
a device the bridge already lists (`{base}/bridge/devices`) is paired at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import orjson

from fieldstation.core.values import json_value
from fieldstation.gateway.adapters.base import Adapter, AdapterError
from fieldstation.gateway.outbox import Delivery, OutboxFull, PairedDevice
from fieldstation.link.protocols import MQTT
from fieldstation.link.topics import NO_DELAY

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
DEFAULT_BASE = "zigbee2mqtt"
PAIR_TIMEOUT_S = 120.0
STATUS_TIMEOUT_S = 10.0
RECONNECT_S = 2.0
LISTED_S = 5.0
"""How long pairing waits for the bridge's retained device list before asking it to permit joining."""


def _broker(parameters: Mapping[str, Any]) -> tuple[str, int]:
    url = urlsplit(str(parameters.get("broker") or DEFAULT_BROKER))
    if url.scheme != "mqtt" or not url.hostname:
        raise AdapterError("parameters.broker must be mqtt://host:port")
    return url.hostname, url.port or 1883


class _Message(aiomqtt.Message):
    again = False
    """MQTT's DUP flag: the broker sends this message again (its acknowledgement did not arrive)."""


class _Client(aiomqtt.Client):
    """aiomqtt's client, keeping what its messages leave out: whether the broker sends one again."""

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        kept = _Message._from_paho_message(message)
        kept.again = bool(message.dup)
        try:
            self._queue.put_nowait(kept)
        except asyncio.QueueFull:  # not with the default unbounded queue; as aiomqtt's own
            self._logger.warning("Message queue is full. Discarding message.")


class _Bridge:
    """One connection to one bridge's broker, shared by its devices."""

    def __init__(self, adapter: MqttAdapter, host: str, port: int, base: str) -> None:
        self.adapter, self.host, self.port, self.base = adapter, host, port, base
        self.known: set[str] = set()
        self.devices: dict[str, str] = {}
        """friendly name -> device id"""
        self.waiters: defaultdict[str, list[asyncio.Future[Any]]] = defaultdict(list)
        self.client: aiomqtt.Client | None = None
        self.ready = asyncio.Event()
        self.listed = asyncio.Event()
        """The bridge's retained device list has arrived (after whatever the broker kept for the agent)."""
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                client = _Client(
                    self.host,
                    self.port,
                    identifier=f"{self.adapter.agent_id}-bridge",
                    clean_session=False,  # what the bridge publishes while the agent is down waits for it
                    timeout=5,
                    socket_options=NO_DELAY,
                )
                # A message is acknowledged to the bridge's broker once its record is in the outbox on
                # disk, not when it arrives: a crash in between has the broker send it again.
                client._client.manual_ack_set(True)
                async with client:
                    await client.subscribe(f"{self.base}/#", qos=1)
                    self.client = client
                    self.ready.set()
                    async for message in client.messages:
                        # The same message sent again after a crash comes under the same id, saying so:
                        # its record is kept once (`AgentStore.add`).
                        again = isinstance(message, _Message) and message.again
                        delivery = Delivery(f"mqtt:{self.host}:{self.port}:{message.mid}", again)
                        if not await self._on(str(message.topic), bytes(message.payload), delivery):
                            continue  # not kept: the broker sends it again once the agent reconnects
                        if message.qos > 0:
                            client._client.ack(message.mid, message.qos)
            except aiomqtt.MqttError as exc:
                self.adapter.log.warning("bridge broker %s:%s: %s; retrying", self.host, self.port, exc)
            finally:
                self.client = None
                self.ready.clear()
            await asyncio.sleep(RECONNECT_S)

    async def _on(self, topic: str, payload: bytes, delivery: Delivery | None = None) -> bool:
        """Handle one message of the bridge's broker; False if a device's reading could not be kept and
        the message should come again (not acknowledged). A message that can never be kept (not JSON, or
        nested deeper than the hub takes) is dropped, saying so, and the bridge goes on."""
        rest = topic[len(self.base) + 1 :]
        try:
            body = json_value(payload) if payload else None
        except orjson.JSONDecodeError as exc:
            if "/" not in rest and rest in self.devices:
                self.adapter.log.warning(
                    "device %s: a message that is not JSON it can keep was dropped: %s", rest, exc
                )
            return True
        if rest == "bridge/devices" and isinstance(body, list):
            self.known = {str(d.get("friendly_name")) for d in body if isinstance(d, dict)}
            self.listed.set()
        elif rest == "bridge/event" and isinstance(body, dict) and body.get("type") == "device_interview":
            data = body.get("data") or {}
            name, status = str(data.get("friendly_name")), data.get("status")
            if status in ("successful", "failed"):
                for waiter in self.waiters.pop(f"interview:{name}", []):
                    if not waiter.done():
                        waiter.set_result(status == "successful")
        elif "/" not in rest and rest in self.devices:
            for waiter in self.waiters.pop(f"status:{rest}", []):
                if not waiter.done():
                    waiter.set_result(body)
            try:
                await self.adapter.emit(self.devices[rest], body, delivery)
            except OutboxFull as exc:
                self.adapter.log.error("device %s: a reading was refused: %s", self.devices[rest], exc)
            except Exception:  # the disk, say: one message must not stop the bridge for every device
                self.adapter.log.exception("device %s: a reading could not be kept", self.devices[rest])
                return False
        return True

    async def publish(self, topic: str, body: Any) -> None:
        try:
            await asyncio.wait_for(self.ready.wait(), timeout=5)
        except TimeoutError:
            raise AdapterError(f"the bridge's broker {self.host}:{self.port} cannot be reached") from None
        assert self.client is not None
        await self.client.publish(f"{self.base}/{topic}", orjson.dumps(body), qos=1)

    async def wait(self, key: str, timeout_s: float) -> Any:
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiters[key].append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout_s)
        finally:
            with contextlib.suppress(ValueError):
                self.waiters[key].remove(waiter)


class MqttAdapter(Adapter):
    protocol = MQTT
    slug = "mqtt"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bridges: dict[tuple[str, int, str], _Bridge] = {}

    async def emit(self, device_id: str, body: Any, delivery: Delivery | None = None) -> None:
        await self._emit(device_id, body, delivery)

    @staticmethod
    async def check(parameters: Mapping[str, Any]) -> str:
        host, port = _broker(parameters)
        try:
            async with aiomqtt.Client(host, port, timeout=5):
                pass
        except aiomqtt.MqttError as exc:
            raise AdapterError(f"the bridge's broker mqtt://{host}:{port} cannot be reached: {exc}") from exc
        return f"the bridge's broker mqtt://{host}:{port} answers\n"

    async def pair(self, device: PairedDevice) -> bool:
        name = device.parameters.get("friendlyName")
        if not isinstance(name, str) or not name or "/" in name or "+" in name or "#" in name:
            raise AdapterError("parameters.friendlyName must be the bridge's name for the device")
        bridge = self._bridge(device.parameters)
        bridge.devices[name] = device.id
        try:
            await asyncio.wait_for(bridge.ready.wait(), timeout=5)
        except TimeoutError:
            bridge.devices.pop(name, None)
            raise AdapterError(f"the bridge's broker {bridge.host}:{bridge.port} cannot be reached") from None
        # The retained device list arrives after the messages the broker kept for the agent while it was
        # away, which take a while to write to the outbox (a fixed 0.2 s wait missed it after a restart, and
        # a device paired for days was taken for a new one, waiting for an interview that never came).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(bridge.listed.wait(), timeout=LISTED_S)
        if name in bridge.known:
            return True
        await bridge.publish("bridge/request/permit_join", {"value": True, "time": int(PAIR_TIMEOUT_S)})
        timeout = float(device.parameters.get("pairTimeout", PAIR_TIMEOUT_S))
        try:
            paired = bool(await bridge.wait(f"interview:{name}", timeout))
        except TimeoutError:
            paired = False
        if not paired:
            bridge.devices.pop(name, None)
        return paired

    async def unpair(self, device_id: str) -> None:
        for bridge in self._bridges.values():
            for name, known in list(bridge.devices.items()):
                if known == device_id:
                    del bridge.devices[name]

    async def control(self, device: PairedDevice, request: Mapping[str, Any]) -> None:
        bridge = self._bridge(device.parameters)
        await bridge.publish(f"{device.parameters['friendlyName']}/set", request.get("body") or {})

    async def status(self, device: PairedDevice, request: Mapping[str, Any]) -> Any:
        bridge = self._bridge(device.parameters)
        name = str(device.parameters["friendlyName"])
        answer = asyncio.ensure_future(bridge.wait(f"status:{name}", STATUS_TIMEOUT_S))
        await asyncio.sleep(0)
        await bridge.publish(f"{name}/get", request.get("body") or {"state": ""})
        try:
            return await answer
        except TimeoutError:
            raise AdapterError(f"device {device.id} did not answer within {STATUS_TIMEOUT_S:g} s") from None

    async def close(self) -> None:
        for bridge in self._bridges.values():
            bridge.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bridge.task

    def _bridge(self, parameters: Mapping[str, Any]) -> _Bridge:
        host, port = _broker(parameters)
        base = str(parameters.get("base") or DEFAULT_BASE)
        key = (host, port, base)
        if key not in self._bridges:
            self._bridges[key] = _Bridge(self, host, port, base)
        return self._bridges[key]
