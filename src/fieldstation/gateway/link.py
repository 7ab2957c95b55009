"""The agent's end of the link: one MQTT session at a time over TLS with the gateway's certificate.

On every connect it announces its session (`status`, with a last will that the broker publishes if the
session is lost), publishes its versions and its outbox's state, and sends the outbox. The outbox goes up
in batches of records, several in flight; a batch leaves the outbox only when the hub's acknowledgement of
it arrives (the hub sends it once the records are committed). A batch that is not acknowledged within
`ACK_TIMEOUT_S`, like a broker that stops answering pings, ends the session: the link reconnects and
sends everything not acknowledged again, in order. The hub stores a record once, whatever it is sent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import aiomqtt
import orjson

from fieldstation.gateway.config import AgentConfig
from fieldstation.gateway.outbox import AgentStore, OutRecord
from fieldstation.link import topics

log = logging.getLogger("fieldstation.gateway.link")

BATCH_RECORDS = 500
WINDOW = 8
"""Batches sent and not yet acknowledged, at most."""
ACK_TIMEOUT_S = 10.0
KEEPALIVE_S = 5
RECONNECT_S = (0.2, 0.5, 1, 2, 5)
REPORT_EVERY_S = 10.0

DownHandler = Callable[[tuple[str, ...], str, dict[str, Any]], Coroutine[Any, Any, None]]
"""(the topic's levels after the gateway's base, its kind, the JSON body)"""


class LinkStale(Exception):
    """The hub has not acknowledged a batch in time: the session is presumed dead."""


class AgentLink:
    def __init__(
        self,
        config: AgentConfig,
        store: AgentStore,
        on_message: DownHandler,
        versions: Callable[[], dict[str, str]],
    ) -> None:
        self._config = config
        self._address = config.address
        self._store = store
        self._on_message = on_message
        self._versions = versions
        self._client: aiomqtt.Client | None = None
        self._changed = asyncio.Event()
        self._in_flight: dict[int, tuple[int, float]] = {}
        """batch (its last seq) -> (its first seq, when it was sent)"""
        self._session = ""
        self._handling: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.connected = asyncio.Event()

    def wake(self) -> None:
        """New records are in the outbox."""
        self._changed.set()

    async def report(self, rest: tuple[str, ...], body: dict[str, Any], kind: str = topics.DISCOVER) -> bool:
        """Publish a report (pairing, install, logs, a status answer); False when the link is down."""
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(self._address.topic(kind, *rest), orjson.dumps(body), qos=1)
        except aiomqtt.MqttError:
            return False
        return True

    async def run(self) -> None:
        attempt = 0
        while not self._stopping:
            self._session = str(uuid.uuid4())
            will = aiomqtt.Will(
                self._address.topic(topics.STATUS),
                orjson.dumps(
                    {
                        "eventType": "disconnected",
                        "disconnectReason": "CONNECTION_LOST",
                        "clientInitiatedDisconnect": False,
                        "sessionIdentifier": self._session,
                        "clientId": self._address.client_id,
                    }
                ),
                qos=1,
            )
            try:
                async with aiomqtt.Client(
                    self._config.broker_host,
                    self._config.broker_port,
                    identifier=self._address.client_id,
                    clean_session=False,  # control messages sent while the gateway was away wait for it
                    keepalive=KEEPALIVE_S,
                    tls_context=self._tls(),
                    will=will,
                    timeout=10,
                    max_inflight_messages=WINDOW * 4,
                    socket_options=topics.NO_DELAY,
                ) as client:
                    attempt = 0
                    await self._session_up(client)
                    async with asyncio.TaskGroup() as group:
                        group.create_task(self._receive(client))
                        group.create_task(self._send(client))
            except* (aiomqtt.MqttError, LinkStale, OSError) as failures:
                delay = RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)]
                log.warning(
                    "link to %s:%s down (%s); reconnecting in %s s, %d records waiting",
                    self._config.broker_host,
                    self._config.broker_port,
                    "; ".join(str(e) for e in failures.exceptions),
                    delay,
                    self._store.pending,
                )
                attempt += 1
            finally:
                self._client = None
                self.connected.clear()
            if not self._stopping:
                await asyncio.sleep(RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)])

    async def stop(self) -> None:
        """Say goodbye (a client-initiated disconnect) and end the session."""
        self._stopping = True
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(
                    self._address.topic(topics.STATUS),
                    orjson.dumps(
                        {
                            "eventType": "disconnected",
                            "disconnectReason": "CLIENT_INITIATED_DISCONNECT",
                            "clientInitiatedDisconnect": True,
                            "sessionIdentifier": self._session,
                            "clientId": self._address.client_id,
                        }
                    ),
                    qos=1,
                )

    async def _session_up(self, client: aiomqtt.Client) -> None:
        for topic_filter in topics.gateway_subscriptions(self._address):
            await client.subscribe(topic_filter, qos=1)
        self._client = client
        await client.publish(
            self._address.topic(topics.STATUS),
            orjson.dumps(
                {
                    "eventType": "connected",
                    "sessionIdentifier": self._session,
                    "clientId": self._address.client_id,
                    "ipAddress": _local_address(self._config.broker_host, self._config.broker_port),
                    "versionNumber": 0,
                }
            ),
            qos=1,
        )
        await self.report(("version",), {"versions": self._versions()})
        await self._report_outbox()
        self.connected.set()
        log.info(
            "connected to %s:%s as %s; %d records to send",
            self._config.broker_host,
            self._config.broker_port,
            self._address.client_id,
            self._store.pending,
        )

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            parsed = topics.parse(str(message.topic))
            if parsed is None or parsed.address != self._address:
                continue
            try:
                body = orjson.loads(message.payload) if message.payload else {}
            except orjson.JSONDecodeError:
                log.warning("a message on %s is not JSON; ignored", message.topic)
                continue
            if not isinstance(body, dict):
                continue
            if parsed.kind == topics.ACK:
                self._acknowledged(body)
            else:
                task = asyncio.create_task(self._on_message(parsed.rest, parsed.kind, body))
                self._handling.add(task)
                task.add_done_callback(self._handling.discard)

    def _acknowledged(self, body: dict[str, Any]) -> None:
        batch, first = body.get("batch"), body.get("first")
        if not isinstance(batch, int) or not isinstance(first, int):
            return
        self._in_flight.pop(batch, None)
        self._store.remove(first, batch)
        for refused in body.get("refused") or []:
            log.error("the hub refused record %s: %s", refused.get("id"), refused.get("reason"))
        self._changed.set()

    async def _send(self, client: aiomqtt.Client) -> None:
        self._in_flight.clear()
        cursor = 0
        publishing: set[asyncio.Task[None]] = set()
        last_report = time.monotonic()
        while True:
            while len(self._in_flight) < WINDOW:
                records = self._store.after(cursor, BATCH_RECORDS)
                if not records or (self._in_flight and len(records) < BATCH_RECORDS):
                    break  # a part batch waits for the one in flight: what arrives meanwhile joins it
                first, last = records[0].seq, records[-1].seq
                self._in_flight[last] = (first, time.monotonic())
                cursor = last
                task = asyncio.create_task(self._publish_batch(client, first, last, records))
                publishing.add(task)
                task.add_done_callback(publishing.discard)
            if self._in_flight:
                oldest = min(sent for _, sent in self._in_flight.values())
                if time.monotonic() - oldest > ACK_TIMEOUT_S:
                    raise LinkStale(f"no acknowledgement from the hub in {ACK_TIMEOUT_S:g} s")
            elif cursor and not self._store.after(0, 1):
                cursor = 0  # everything acknowledged
            if time.monotonic() - last_report > REPORT_EVERY_S:
                last_report = time.monotonic()
                await self._report_outbox()
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=1.0)

    async def _publish_batch(
        self, client: aiomqtt.Client, first: int, last: int, records: list[OutRecord]
    ) -> None:
        body = {
            "batch": last,
            "first": first,
            "records": [
                {"id": r.id, "deviceId": r.device, "ts": r.ts, "payload": orjson.Fragment(r.payload)}
                for r in records
            ],
        }
        with contextlib.suppress(aiomqtt.MqttError):  # the acknowledgement's timeout notices
            await client.publish(self._address.topic(topics.OUTBOX), orjson.dumps(body), qos=1)

    async def _report_outbox(self) -> None:
        pending, maximum = self._store.pending, self._store.max_records
        await self.report(("outbox",), {"pending": pending, "maximum": maximum, "full": pending >= maximum})

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self._config.ca_certificate))
        context.load_cert_chain(str(self._config.certificate), str(self._config.private_key))
        return context


def _local_address(host: str, port: int) -> str:
    """The address this gateway reaches the broker from (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, port))
            return str(probe.getsockname()[0])
    except OSError:
        return "unknown"
