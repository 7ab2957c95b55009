"""The hub's MQTT client: it reads every gateway's topics, turns each message into a core call, answers
outbox batches with acknowledgements once they are committed, and carries the core's messages down
(`core.gateways.GatewayLink`).

A message is checked where it enters: its topic must name a project and one of its gateways (a broker's
ACL already confines a gateway's certificate to its own topics), its payload must be a JSON object of the
shape its topic calls for. Anything else is logged and dropped; it never stops the link."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, TypeGuard

import aiomqtt
import orjson

from fieldstation.core.errors import InvalidInput, NotFound, StoreUnavailable
from fieldstation.core.gateways import (
    GET,
    INSTALL,
    PAIR,
    SET,
    UNPAIR,
    Down,
    Record,
    SubmittedBatch,
    parse_records,
)
from fieldstation.core.hub import Hub
from fieldstation.core.ids import ordered_guid
from fieldstation.core.models import Device, Project
from fieldstation.core.values import json_value
from fieldstation.link import topics
from fieldstation.link.topics import Address

log = logging.getLogger("fieldstation.link")

HUB_CLIENT_ID = "fieldstation-hub"
SHARE_GROUP = "fieldstation-hub"
RECONNECT_S = (0.5, 1, 2, 5)
KEEPALIVE_S = 15
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
MAX_HANDLERS = 256
"""Messages being handled at once; more wait in the client's queue (and the broker's)."""
ENVS = ("live", "sandbox")


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: ssl.SSLContext | None


def tls_context(ca: str, certificate: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    context.load_cert_chain(certificate, key)
    return context


class HubLink:
    """Connects, subscribes, handles; reconnects when the broker goes away. `send` is the core's way
    down."""

    def __init__(self, hub: Hub, broker: BrokerAddress, *, one_of_several: bool = False) -> None:
        """`one_of_several`: a worker of `serve --workers`. The workers share the gateways' traffic through
        an MQTT shared subscription (each message goes to one of them), each with a client id of its own;
        alone, the hub keeps one persistent session, so that what gateways publish while it restarts waits
        for it."""
        self._hub = hub
        self._broker = broker
        self._shared = one_of_several
        self._client_id = (
            f"{HUB_CLIENT_ID}-{socket.gethostname()}-{os.getpid()}" if one_of_several else HUB_CLIENT_ID
        )
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._handlers = asyncio.Semaphore(MAX_HANDLERS)
        self._order: defaultdict[Address, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> asyncio.Event:
        return self._connected

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                async with aiomqtt.Client(
                    self._broker.host,
                    self._broker.port,
                    identifier=self._client_id,
                    clean_session=not self._shared,
                    keepalive=KEEPALIVE_S,
                    tls_context=self._broker.tls,
                    timeout=10,
                    socket_options=topics.NO_DELAY,
                ) as client:
                    for topic_filter in topics.hub_subscriptions(ENVS):
                        shared = f"$share/{SHARE_GROUP}/{topic_filter}" if self._shared else topic_filter
                        await client.subscribe(shared, qos=1)
                    self._client = client
                    self._connected.set()
                    attempt = 0
                    log.info("gateway link up: %s:%s", self._broker.host, self._broker.port)
                    async for message in client.messages:
                        await self._handlers.acquire()
                        task = asyncio.create_task(self._handle(str(message.topic), bytes(message.payload)))
                        self._tasks.add(task)
                        task.add_done_callback(self._done)
            except aiomqtt.MqttError as exc:
                delay = RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)]
                log.warning("gateway link down (%s); reconnecting in %s s", exc, delay)
                attempt += 1
                await asyncio.sleep(delay)
            finally:
                self._client = None
                self._connected.clear()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._handlers.release()

    async def send(self, project: Project, gateway: Device, message: Down) -> bool:
        client = self._client
        if client is None:
            return False
        address = address_of(project, gateway)
        if message.kind == PAIR:
            topic = address.topic(topics.DISCOVER, "device", "post")
            payload = dict(message.payload) | {"topic": address.topic(topics.DATA, str(message.device))}
        elif message.kind == INSTALL:
            topic, payload = address.topic(topics.DISCOVER, "protocol", "post"), dict(message.payload)
        elif message.kind in (SET, GET, UNPAIR):
            action = "remove" if message.kind == UNPAIR else message.kind
            topic, payload = address.topic(topics.CONTROL, str(message.device), action), dict(message.payload)
        else:
            raise ValueError(f"no topic for {message.kind}")
        try:
            await client.publish(topic, orjson.dumps(payload), qos=1)
        except aiomqtt.MqttError as exc:
            log.warning("could not send %s to gateway %s: %s", message.kind, gateway.short_id, exc)
            return False
        return True

    async def _handle(self, topic: str, payload: bytes) -> None:
        parsed = topics.parse(topic)
        if parsed is None or _going_down(parsed):
            return
        # One gateway's messages are handled one after the other, in arrival order: each handler takes its
        # gateway's lock before its first wait (handlers start in arrival order). An outbox batch keeps it
        # only until its records are handed to the group commit, not until they are committed.
        async with self._order[parsed.address]:
            submitted = await self._guarded(topic, parsed, payload)
        if submitted is not None:
            await self._acknowledge(parsed.address, *submitted)

    async def _guarded(
        self, topic: str, parsed: topics.Parsed, payload: bytes
    ) -> tuple[int, int, SubmittedBatch] | None:
        """Check and hand on one message; for an outbox batch, what to acknowledge once it is committed."""
        try:
            project, gateway = await self._gateway(parsed.address)
            if len(payload) > MAX_PAYLOAD_BYTES:
                raise InvalidInput(f"a message is at most {MAX_PAYLOAD_BYTES} bytes")
            body = json_value(payload) if payload else {}
            if not isinstance(body, dict):
                raise InvalidInput("a message is a JSON object")
            if parsed.kind == topics.OUTBOX:
                return await self._outbox(project, gateway, body)
            await self._dispatch(project, gateway, parsed, body)
        except (InvalidInput, NotFound, orjson.JSONDecodeError) as exc:
            log.warning("gateway link: %s refused: %s", topic, exc)
        except StoreUnavailable as exc:
            log.error("gateway link: %s not handled, the store cannot be reached: %s", topic, exc)
        except Exception:
            log.exception("gateway link: %s failed", topic)
        return None

    async def _gateway(self, address: Address) -> tuple[Project, Device]:
        project = await self._hub.projects.by_short_id(address.project)
        if project is None:
            raise NotFound(f"no project {address.project}")
        gateway = await self._hub.devices.by_short_id(project, address.gateway)
        if gateway is None or not gateway.is_gateway:
            raise NotFound(f"no gateway {address.gateway} in project {address.project}")
        return project, gateway

    async def _dispatch(
        self, project: Project, gateway: Device, parsed: topics.Parsed, body: dict[str, Any]
    ) -> None:
        gateways, rest = self._hub.gateways, parsed.rest
        if parsed.kind == topics.STATUS:
            await gateways.session(project, gateway, body)
        elif parsed.kind == topics.DATA and len(rest) == 1:
            record = Record(ordered_guid(), rest[0], self._hub.clock.now_us() // 1000, body)
            await gateways.records(project, gateway, [record])
        elif parsed.kind == topics.CONTROL and len(rest) == 2 and rest[1] == "fetch":
            await gateways.answer(project, gateway, body)
        elif parsed.kind == topics.DISCOVER and rest == ("version",):
            versions = body.get("versions")
            if not isinstance(versions, dict):
                raise InvalidInput("versions must be an object")
            await gateways.versions(project, gateway, versions)
        elif parsed.kind == topics.DISCOVER and rest == ("device",):
            status, device = body.get("status"), body.get("deviceId")
            if not isinstance(status, dict) or not isinstance(device, str):
                raise InvalidInput("a pairing report is {status: {eventType}, deviceId}")
            await gateways.pairing(project, gateway, device, str(status.get("eventType")))
        elif parsed.kind == topics.DISCOVER and rest == ("protocol",):
            await gateways.installed(project, gateway, body)
        elif parsed.kind == topics.DISCOVER and rest == ("outbox",):
            await gateways.outbox_report(project, gateway, body)
        elif parsed.kind == topics.DISCOVER and len(rest) == 2 and rest[1] == "logs":
            lines = body.get("logs", [body])
            if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
                raise InvalidInput("logs must be a list of {log, timestamp}")
            await gateways.logs(gateway, rest[0][:64], lines)
        else:
            raise InvalidInput("not a topic of the link")

    async def _outbox(
        self, project: Project, gateway: Device, body: dict[str, Any]
    ) -> tuple[int, int, SubmittedBatch]:
        """`batch` and `first` are the gateway's own numbers for the batch, given back in the
        acknowledgement."""
        batch, first = body.get("batch"), body.get("first", 0)
        if not _count(batch) or not _count(first):
            raise InvalidInput("an outbox batch is numbered by integers `batch` and `first`")
        records = parse_records(body.get("records"))
        return batch, first, await self._hub.gateways.submit_records(project, gateway, records)

    async def _acknowledge(self, address: Address, batch: int, first: int, submitted: SubmittedBatch) -> None:
        """Once the batch is committed: a batch the store could not take is not acknowledged, and the
        gateway sends it again."""
        try:
            outcome = await submitted.outcome()
        except StoreUnavailable as exc:
            log.error(
                "gateway %s: batch %s not stored, the store cannot be reached: %s",
                address.gateway,
                batch,
                exc,
            )
            return
        client = self._client
        if client is None:
            return
        ack = {
            "batch": batch,
            "first": first,
            "stored": outcome.stored,
            "duplicates": outcome.duplicates,
            "refused": outcome.refused,
        }
        with contextlib.suppress(aiomqtt.MqttError):
            await client.publish(address.topic(topics.ACK), orjson.dumps(ack), qos=1)


def _count(number: object) -> TypeGuard[int]:
    return isinstance(number, int) and not isinstance(number, bool) and 0 <= number < 2**63


def address_of(project: Project, gateway: Device) -> Address:
    return Address(project.settings.get(topics.ENV_SETTING, "sandbox"), project.short_id, gateway.short_id)


def _going_down(parsed: topics.Parsed) -> bool:
    """The hub's own messages to gateways come back to it through its wide subscriptions."""
    rest = "/".join(parsed.rest)
    if parsed.kind == topics.DISCOVER:
        return rest in topics.DOWN_DISCOVER
    if parsed.kind == topics.CONTROL:
        return len(parsed.rest) == 2 and parsed.rest[1] in topics.DOWN_CONTROL
    return parsed.kind == topics.ACK
