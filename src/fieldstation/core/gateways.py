"""Gateways and their link: what a gateway says (its session, versions, pairing progress, protocol
installs, logs, status answers, its outbox's records) becomes state, readings and events; what the hub has
for a gateway (pairing, unpairing, control, status requests) goes down the link. The link itself (MQTT)
is outside the core, behind `GatewayLink`."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from fieldstation.core import values
from fieldstation.core.clock import Clock
from fieldstation.core.devices import Devices
from fieldstation.core.errors import InvalidInput, StoreUnavailable
from fieldstation.core.events import EventBus
from fieldstation.core.ingest import Ingestor
from fieldstation.core.meters import Meters, NoMeters
from fieldstation.core.models import Device, Event, LogLine, NewUplink, Operation, Project
from fieldstation.core.operations import Operations
from fieldstation.core.ports import StoredReading

log = logging.getLogger("fieldstation.gateways")

PAIR, UNPAIR, INSTALL, SET, GET = "pair", "unpair", "install", "set", "get"
PAIRING_EVENTS = frozenset({"discovering", "paired", "not_paired"})
MAX_RECORDS = 5_000
"""Records in one outbox batch at most: a bigger batch is refused whole (the agent sends 500)."""
RECORD_ID_MAX = 36
"""A record's id becomes its reading's uid, a column of 36 characters (a GUID's): on PostgreSQL a longer one,
or one holding a NUL, failed the write, and the record was refused at every sending."""
_RECORD_ID = re.compile(f"[\\x21-\\x7e]{{1,{RECORD_ID_MAX}}}")
MAX_LOG_MESSAGE = 4_096
MAX_LOG_LINES = 1_000
MAX_VERSIONS = 32
MAX_PROTOCOLS = 64
MAX_SHORT_TEXT = 128
MAX_OUTPUT = 16_384
"""What is kept of an install's stdout and stderr, each: its end."""


@dataclass(frozen=True, slots=True)
class Down:
    """A message for a gateway: `kind` is one of PAIR, UNPAIR, INSTALL, SET, GET; `device` the sub-device's
    id where the message is about one."""

    kind: str
    payload: Mapping[str, Any]
    device: str | None = None


class GatewayLink(Protocol):
    async def send(self, project: Project, gateway: Device, message: Down) -> bool:
        """Hand the message to the link; False when there is no link to hand it to."""
        ...


class NoLink:
    """No broker configured: nothing goes down."""

    async def send(self, project: Project, gateway: Device, message: Down) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Record:
    """One data record of a gateway's outbox."""

    id: str
    device: str
    ts_ms: int
    payload: Any


@dataclass(slots=True)
class BatchOutcome:
    stored: int = 0
    duplicates: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class SubmittedBatch:
    gateway: str
    refused: list[dict[str, str]] = field(default_factory=list)
    accepted: list[Record] = field(default_factory=list)
    committed: Awaitable[list[StoredReading | Exception]] | None = None

    async def outcome(self) -> BatchOutcome:
        outcome = BatchOutcome(refused=list(self.refused))
        results = [] if self.committed is None else await self.committed
        for record, result in zip(self.accepted, results, strict=True):
            if isinstance(result, StoreUnavailable):
                raise result
            if isinstance(result, StoredReading):
                if result.duplicate:
                    outcome.duplicates += 1
                else:
                    outcome.stored += 1
            else:
                log.warning("gateway %s: record %s refused: %s", self.gateway, record.id, result)
                outcome.refused.append({"id": record.id, "reason": str(result)})
        return outcome


class Gateways:
    def __init__(
        self,
        devices: Devices,
        ingestor: Ingestor,
        operations: Operations,
        events: EventBus,
        clock: Clock,
        meters: Meters | None = None,
    ) -> None:
        self._meters = meters or NoMeters()
        self._devices = devices
        self._ingestor = ingestor
        self._operations = operations
        self._events = events
        self._clock = clock
        self.link: GatewayLink = NoLink()
        self.broker_port: int | None = None
        """Where gateways reach the broker (set when the link starts): the port a bundle's `.env` names."""
        self.broker_host: str | None = None
        self.agent_package: tuple[str, str] | None = None
        """The agent's wheel as the hub serves it (file name, SHA-256), for the bundles' install.sh."""

    # down the link -------------------------------------------------------------------------------------

    async def pair(self, project: Project, device: Device, device_type: Mapping[str, Any] | None) -> bool:
        """Ask a sub-device's gateway to pair it (`device/post`): the gateway reports `discovering`, then
        `paired` or `not_paired`."""
        gateway = await self._parent(project, device)
        if gateway is None:
            return False
        payload = {
            "idIn": device.short_id,
            "deviceType": dict(device_type or {}),
            "parameters": dict(device.parameters),
            "name": device.name,
        }
        return await self.link.send(project, gateway, Down(PAIR, payload, device.short_id))

    async def unpair(self, project: Project, device: Device) -> bool:
        """Tell a sub-device's gateway to forget it (it is being deleted): `not_paired` goes out now, with
        the device's information while it still exists; the gateway's own report of it finds no device."""
        gateway = await self._parent(project, device)
        if gateway is None:
            return False
        await self._publish(project, "not_paired", device, gateway)
        return await self.link.send(project, gateway, Down(UNPAIR, {}, device.short_id))

    async def deliver(self, project: Project, device: Device, operation: Operation) -> bool:
        """Send a control (`set`) or status request (`get`) to the device's gateway; its answer comes back
        through `answer`."""
        gateway = device if device.is_gateway else await self._parent(project, device)
        if gateway is None:
            return False
        payload = dict(operation.request) | {"requestId": operation.short_id}
        return await self.link.send(project, gateway, Down(operation.action, payload, device.short_id))

    # up the link ---------------------------------------------------------------------------------------

    async def session(self, project: Project, gateway: Device, status: Mapping[str, Any]) -> None:
        """A gateway connected (its own word on connecting) or was lost (its last will, published by the
        broker). A will from a session older than the current one is ignored."""
        kind = status.get("eventType")
        if kind not in ("connected", "disconnected"):
            raise InvalidInput("eventType must be connected or disconnected")
        state = dict(gateway.link_state or {})
        current = (state.get("status") or {}).get("sessionIdentifier")
        if kind == "disconnected" and current is not None and status.get("sessionIdentifier") != current:
            log.info("gateway %s: a will of an earlier session, ignored", gateway.short_id)
            return
        kept = _session_fields(status)
        kept["eventType"] = kind
        kept["timestamp"] = self._clock.now_us() // 1000
        kept["principalIdentifier"] = gateway.certificate_id
        state["status"] = kept
        gateway = await self._devices.update(gateway, link_state=state)
        self._meters.gateway_link(gateway.short_id, kind == "connected")
        log.info("gateway %s %s (%s)", gateway.short_id, kind, kept.get("disconnectReason", "session up"))
        await self._publish(project, kind, gateway)

    async def versions(self, project: Project, gateway: Device, versions: Mapping[str, Any]) -> None:
        if len(versions) > MAX_VERSIONS or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in versions.items()
        ):
            raise InvalidInput(f"versions must map at most {MAX_VERSIONS} names to version strings")
        for name, version in versions.items():
            values.text(name, "a software name", max_length=MAX_SHORT_TEXT)
            values.text(version, "a software version", max_length=MAX_SHORT_TEXT)
        state = dict(gateway.link_state or {}) | {"versions": dict(versions)}
        gateway = await self._devices.update(gateway, link_state=state)
        await self._publish(project, "software_version", gateway)

    async def outbox_report(self, project: Project, gateway: Device, report: Mapping[str, Any]) -> None:
        pending, maximum, full = report.get("pending"), report.get("maximum"), report.get("full")
        if not isinstance(full, bool):
            raise InvalidInput("an outbox report is {pending, maximum, full}")
        kept = {
            "pending": values.within(pending, "pending"),  # type: ignore[arg-type]
            "maximum": values.within(maximum, "maximum"),  # type: ignore[arg-type]
            "full": full,
        }
        if full and not (gateway.link_state or {}).get("outbox", {}).get("full"):
            log.error(
                "gateway %s: its outbox is full (%s records); it refuses new records",
                gateway.short_id,
                pending,
            )
        state = dict(gateway.link_state or {}) | {"outbox": kept}
        self._meters.outbox(gateway.short_id, kept["pending"])
        await self._devices.update(gateway, link_state=state)

    async def pairing(self, project: Project, gateway: Device, device_id: str, event: str) -> None:
        if event not in PAIRING_EVENTS:
            raise InvalidInput(f"eventType must be one of {', '.join(sorted(PAIRING_EVENTS))}")
        device = await self._devices.by_short_id(project, device_id)
        if device is None and event == "not_paired":
            return  # unpaired because it was deleted: the event went out then
        if device is None or device.parent_id != gateway.id:
            raise InvalidInput(f"{device_id} is not a device of gateway {gateway.short_id}")
        await self._publish(project, event, device, gateway)

    async def installed(self, project: Project, gateway: Device, result: Mapping[str, Any]) -> None:
        """A protocol install's outcome, as the gateway reports it."""
        succeeded = result.get("installationSuccess") is True
        protocol = result.get("protocolId")
        if not isinstance(protocol, str):
            raise InvalidInput("an installation's protocolId is text")
        values.text(protocol, "a protocol id", max_length=MAX_SHORT_TEXT)
        if succeeded and protocol not in gateway.protocols:
            if len(gateway.protocols) >= MAX_PROTOCOLS:  # each report rewrote a list the gateway alone grew
                raise InvalidInput(f"a gateway has at most {MAX_PROTOCOLS} protocols installed")
            gateway = await self._devices.update(gateway, protocols=(*gateway.protocols, protocol))
        event = {key: result.get(key) for key in INSTALL_FIELDS}
        for stream in ("stdout", "stderr"):
            event[stream] = str(event[stream] or "")[-MAX_OUTPUT:]  # the end of a long output says why
        event |= {"projectId": project.short_id, "deviceId": gateway.short_id}
        action = "installation_succeded" if succeeded else "installation_failed"  # the seed's spelling
        self._events.publish(Event(project.id, action, {"event": event}))

    async def logs(self, gateway: Device, container: str, lines: Sequence[Mapping[str, Any]]) -> None:
        values.text(container, "a container id", max_length=MAX_SHORT_TEXT)
        if len(lines) > MAX_LOG_LINES:
            raise InvalidInput(f"at most {MAX_LOG_LINES} log lines a message")
        now = self._clock.now_us()
        kept = []
        for line in lines:
            message, stamp = line.get("log"), line.get("timestamp")
            if not isinstance(message, str) or isinstance(stamp, bool) or not isinstance(stamp, int):
                raise InvalidInput("a log line is {log: text, timestamp: epoch ms}")
            kind = "ERR" if line.get("type") == "ERR" else "LOG"
            kept.append(LogLine(gateway.id, container, kind, message[:MAX_LOG_MESSAGE], stamp * 1000, now))
        await self._operations.record_logs(gateway, kept)

    async def answer(self, project: Project, gateway: Device, answer: Mapping[str, Any]) -> None:
        """A status answer (`fetch`): it completes the operation the status request created."""
        request_id = answer.get("requestId")
        if not isinstance(request_id, str):
            raise InvalidInput("requestId is missing")
        operation = await self._operations.find(project, request_id)
        device = await self._devices.by_id(project, operation.device_id) if operation else None
        if operation is None or device is None or gateway.id not in (device.id, device.parent_id):
            raise InvalidInput(f"no status request {request_id} for a device of this gateway")
        response = {"type": "data", "message": {"data": answer.get("payload")}}
        await self._operations.answer(operation, device, response)

    async def records(self, project: Project, gateway: Device, records: Sequence[Record]) -> BatchOutcome:
        """Store an outbox batch. Each record's id makes it stored once, however often it is sent. Raises
        StoreUnavailable when the store cannot take it: the batch is not acknowledged and comes again."""
        return await (await self.submit_records(project, gateway, records)).outcome()

    async def submit_records(
        self, project: Project, gateway: Device, records: Sequence[Record]
    ) -> SubmittedBatch:
        """Hand a batch's records to the group commit, in their order, and return at once: a caller that
        submits a gateway's batches one after the other, each call awaited, has them committed in order."""
        if len(records) > MAX_RECORDS:
            raise InvalidInput(f"at most {MAX_RECORDS} records a batch")
        devices = {d.short_id: d for d in await self._devices.list(project)}
        meta = {"client_id": gateway.short_id, "principal": gateway.certificate_id}
        now = self._clock.now_us()
        batch = SubmittedBatch(gateway.short_id)
        accepted: list[tuple[Device, NewUplink]] = []
        for record in records:
            device = devices.get(record.device)
            if device is None or gateway.id not in (device.id, device.parent_id):
                batch.refused.append({"id": record.id, "reason": f"{record.device} is not this gateway's"})
                continue
            uplink = NewUplink(
                source="gateway",
                payload=orjson.dumps(record.payload),
                received_us=now,
                meta=meta,
                device_time_us=record.ts_ms * 1000,
                uid=record.id,
            )
            accepted.append((device, uplink))
            batch.accepted.append(record)
        batch.committed = self._ingestor.enqueue(accepted)
        return batch

    # helpers -------------------------------------------------------------------------------------------

    async def _parent(self, project: Project, device: Device) -> Device | None:
        if device.parent_id is None:
            return None
        return await self._devices.by_id(project, device.parent_id)

    async def _publish(
        self, project: Project, action: str, device: Device, parent: Device | None = None
    ) -> None:
        children = [d.short_id for d in await self._devices.list(project) if d.parent_id == device.id]
        state = device.link_state or {}
        self._events.publish(
            Event(
                project.id,
                action,
                {
                    "device": device.short_id,
                    "name": device.name,
                    "type": device.type_id,
                    "is_gateway": device.is_gateway,
                    "parent": None if parent is None else parent.short_id,
                    "protocols": list(device.protocols),
                    "certificate_id": device.certificate_id,
                    "sub_devices": children,
                    "status": {"eventType": action} if action in PAIRING_EVENTS else state.get("status"),
                    "versions": state.get("versions"),
                    "ts_ms": self._clock.now_us() // 1000,
                },
            )
        )


SESSION_TEXT = ("clientId", "ipAddress", "sessionIdentifier", "disconnectReason")
INSTALL_FIELDS = (
    "dt_install",
    "protocol",
    "protocolId",
    "exitStatus",
    "installationSuccess",
    "stdout",
    "stderr",
    "versions",
    "newContainers",
)


def _session_fields(status: Mapping[str, Any]) -> dict[str, Any]:
    """What the hub keeps of a gateway's word on its session: short texts, a flag, a number."""
    kept: dict[str, Any] = {}
    for key in SESSION_TEXT:
        if isinstance(status.get(key), str):
            kept[key] = values.text(status[key], key, max_length=MAX_SHORT_TEXT, allow_empty=True)
    if isinstance(status.get("clientInitiatedDisconnect"), bool):
        kept["clientInitiatedDisconnect"] = status["clientInitiatedDisconnect"]
    if isinstance(status.get("versionNumber"), int) and not isinstance(status["versionNumber"], bool):
        kept["versionNumber"] = values.within(
            status["versionNumber"], "versionNumber", maximum=values.INT32_MAX
        )
    return kept


def parse_records(raw: Any) -> list[Record]:
    """An outbox batch's records, each checked: an id of at most `RECORD_ID_MAX` printable ASCII characters,
    a device id, a time in epoch milliseconds, any JSON payload."""
    if not isinstance(raw, list):
        raise InvalidInput("records must be a list")
    records = []
    for item in raw:
        if not isinstance(item, dict):
            raise InvalidInput("a record is an object")
        record_id, device, ts = item.get("id"), item.get("deviceId"), item.get("ts")
        if not isinstance(record_id, str) or not _RECORD_ID.fullmatch(record_id):
            raise InvalidInput(f"a record's id is 1 to {RECORD_ID_MAX} printable ASCII characters, no spaces")
        if not isinstance(device, str):
            raise InvalidInput("a record's deviceId is a device id")
        if isinstance(ts, bool) or not isinstance(ts, int):
            raise InvalidInput("a record's ts is epoch milliseconds")
        values.within(ts, "a record's ts", maximum=253_402_300_799_999)
        records.append(Record(record_id, device, ts, item.get("payload")))
    return records
