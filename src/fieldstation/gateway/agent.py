"""The agent: its devices and adapters, its outbox and link, its logs. Messages from the hub arrive here
(`_on_message`); records from adapters go to every sink (the outbox for the cloud; the on-premise store
when it is enabled)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections import defaultdict, deque
from typing import Any

from fieldstation import __version__
from fieldstation.gateway.adapters import ADAPTERS, adapter_for
from fieldstation.gateway.adapters.base import Adapter, AdapterError
from fieldstation.gateway.config import AgentConfig
from fieldstation.gateway.link import AgentLink
from fieldstation.gateway.onpremise.api import OnPremiseApi
from fieldstation.gateway.onpremise.server import serve as serve_on_premise
from fieldstation.gateway.outbox import AgentStore, Delivery, OutRecord, PairedDevice
from fieldstation.link import topics
from fieldstation.link.protocols import SLUGS

log = logging.getLogger("fieldstation.gateway")

AGENT_CONTAINER = "gate"
LOG_FLUSH_S = 1.0
MAX_LOG_LINES = 1_000
INSTALL_TIMEOUT_S = 60.0
DEVICES_CHECK_S = 2.0
DECLARED_RETRY_S = 60.0


class LinkLogs(logging.Handler):
    """The agent's and its adapters' log lines, gathered per container (`gate`, and one per protocol) for
    the hub's logs endpoint and `log` events. A line is `2020-05-07T15:01:20.563Z gate:log message`, as
    the vendor's gateway writes them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: defaultdict[str, deque[dict[str, Any]]] = defaultdict(lambda: deque(maxlen=MAX_LOG_LINES))

    def emit(self, record: logging.LogRecord) -> None:
        parts = record.name.split(".")
        container = parts[3] if len(parts) > 3 and parts[2] == "adapters" else AGENT_CONTAINER
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        level = "error" if record.levelno >= logging.ERROR else "log"
        self.lines[container].append(
            {
                "log": f"{stamp} {container}:{level} {record.getMessage()}",
                "timestamp": int(record.created * 1000),
                "type": "ERR" if record.levelno >= logging.ERROR else "LOG",
            }
        )


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.store = AgentStore(config.data_dir, config.outbox_max_records)
        self.adapters: dict[str, Adapter] = {}
        self.devices: dict[str, PairedDevice] = {}
        self.logs = LinkLogs()
        self.link = (
            AgentLink(config, self.store, self._on_message, self.versions) if config.cloud_enabled else None
        )
        self._arriving: list[tuple[str, Any, Delivery | None, asyncio.Future[OutRecord | None]]] = []
        self.on_premise = OnPremiseApi(self) if config.on_premise_enabled else None

    def versions(self) -> dict[str, str]:
        versions = {AGENT_CONTAINER: f"fieldstation/gate:{__version__}"}
        for protocol in self.store.protocols():
            slug = SLUGS.get(protocol, protocol)
            versions[f"fieldstation-{slug}"] = f"fieldstation/{slug}:{__version__}"
        return versions

    async def run(self) -> None:
        logging.getLogger("fieldstation.gateway").addHandler(self.logs)
        log.info("fieldstation gateway agent %s starting (data in %s)", __version__, self.config.data_dir)
        try:
            async with asyncio.TaskGroup() as group:
                # The devices paired before are started beside the link, not before it: a bridge that is
                # slow to list its devices must not keep the outbox from the hub.
                group.create_task(self._start_paired())
                if self.link is not None:
                    group.create_task(self.link.run())
                    group.create_task(self._flush_logs())
                if self.on_premise is not None:
                    group.create_task(
                        serve_on_premise(
                            self.on_premise,
                            self.config.on_premise_host,
                            self.config.on_premise_port,
                            self.config.on_premise_retention_days,
                        )
                    )
                group.create_task(self._follow_declared_devices())
        finally:
            await self.close()

    async def _start_paired(self) -> None:
        for device in self.store.paired():
            await self._start(device)

    async def stop(self, running: asyncio.Task[None]) -> None:
        """Say goodbye to the hub (a client-initiated disconnect, not a lost session), then stop."""
        if self.link is not None:
            await self.link.stop()
        running.cancel()

    async def close(self) -> None:
        for adapter in self.adapters.values():
            with contextlib.suppress(Exception):
                await adapter.close()
        self.adapters.clear()
        logging.getLogger("fieldstation.gateway").removeHandler(self.logs)

    async def record(self, device_id: str, payload: Any, delivery: Delivery | None = None) -> None:
        """A device's data: on disk in the outbox (committed) before this returns. The records that arrive
        in one turn of the event loop share one transaction (one disk sync, not one per record)."""
        waiter: asyncio.Future[OutRecord | None] = asyncio.get_running_loop().create_future()
        self._arriving.append((device_id, payload, delivery, waiter))
        if len(self._arriving) == 1:
            asyncio.get_running_loop().call_soon(self._keep_arrivals)
        await waiter

    def _keep_arrivals(self) -> None:
        arrived, self._arriving = self._arriving, []
        try:
            kept = self.store.add(
                [(device, payload, None) for device, payload, _, _ in arrived],
                outbox=self.config.cloud_enabled,
                local=self.config.on_premise_enabled,
                deliveries=[delivery for _, _, delivery, _ in arrived],
            )
        except Exception as exc:  # OutboxFull, or the disk: every record of the turn is refused, loudly
            log.error("%d records could not be kept: %s", len(arrived), exc)
            for *_, waiter in arrived:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        for (_, payload, _, waiter), record in zip(arrived, kept, strict=True):
            if not waiter.done():
                waiter.set_result(record)
            if self.on_premise is not None and record is not None:  # None: kept already, sent again
                self.on_premise.emit_data(record.device, payload, record.ts)
        if self.link is not None:
            self.link.wake()

    # messages from the hub ---------------------------------------------------------------------------

    async def _on_message(self, rest: tuple[str, ...], kind: str, body: dict[str, Any]) -> None:
        try:
            if kind == topics.DISCOVER and rest == ("device", "post"):
                await self.pair(body)
            elif kind == topics.DISCOVER and rest == ("protocol", "post"):
                await self.install(
                    str(body.get("protocolId") or body.get("protocol")), body.get("parameters") or {}
                )
            elif kind == topics.CONTROL and len(rest) == 2:
                await self.control(rest[0], rest[1], body)
            elif kind == topics.DISCOVER and rest[-1:] == ("update",):
                log.info(
                    "an update was asked for (%s); this agent is updated by reinstalling its bundle",
                    "/".join(rest),
                )
        except Exception:
            log.exception("a message from the hub (%s/%s) could not be handled", kind, "/".join(rest))

    async def pair(self, body: dict[str, Any]) -> bool:
        device_id = body.get("idIn")
        device_type: dict[str, Any] = body["deviceType"] if isinstance(body.get("deviceType"), dict) else {}
        parameters: dict[str, Any] = body["parameters"] if isinstance(body.get("parameters"), dict) else {}
        if not isinstance(device_id, str) or not device_id:
            log.error("a pairing request without a device id; ignored")
            return False
        await self._pairing(device_id, "discovering")
        protocols = [str(p) for p in (device_type or {}).get("protocols", [])]
        adapter_class = adapter_for(protocols)
        if adapter_class is None:
            log.error("device %s: no adapter for its protocols %s", device_id, protocols)
            await self._pairing(device_id, "not_paired")
            return False
        if adapter_class.protocol not in self.store.protocols() and not await self.install(
            adapter_class.protocol, parameters
        ):
            await self._pairing(device_id, "not_paired")
            return False
        device = PairedDevice(
            device_id,
            adapter_class.protocol,
            str(body.get("name") or device_id),
            parameters,
            device_type or {},
        )
        paired = await self._start(device)
        if paired:
            self.store.keep_device(device)
        await self._pairing(device_id, "paired" if paired else "not_paired")
        return paired

    async def install(self, protocol: str, parameters: dict[str, Any]) -> bool:
        """Install a protocol: its adapter's check, run in a process of its own; the outcome is reported as
        the hub's `installation_succeded` or `installation_failed`."""
        import orjson

        started = int(time.time() * 1000)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "fieldstation.gateway.adapters.install",
            protocol,
            orjson.dumps(parameters).decode(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), INSTALL_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            stdout, stderr = b"", f"the installation took more than {INSTALL_TIMEOUT_S:g} s".encode()
        status = process.returncode if process.returncode is not None else -9
        succeeded = status == 0
        if succeeded:
            self.store.keep_protocol(protocol)
            log.info("protocol %s installed", SLUGS.get(protocol, protocol))
        else:
            log.error(
                "protocol %s could not be installed: %s",
                SLUGS.get(protocol, protocol),
                stderr.decode().strip(),
            )
        adapter_class = ADAPTERS.get(protocol)
        if self.link is not None:
            await self.link.report(
                ("protocol",),
                {
                    "dt_install": started,
                    "protocol": SLUGS.get(protocol, protocol),
                    "protocolId": protocol,
                    "exitStatus": status,
                    "installationSuccess": succeeded,
                    "stdout": stdout.decode(errors="replace"),
                    "stderr": stderr.decode(errors="replace"),
                    "versions": self.versions(),
                    "newContainers": [f"fieldstation-{adapter_class.slug}"]
                    if succeeded and adapter_class
                    else [],
                },
            )
            if succeeded:
                await self.link.report(("version",), {"versions": self.versions()})
        return succeeded

    async def control(self, device_id: str, action: str, body: dict[str, Any]) -> None:
        device = self.devices.get(device_id)
        if action == "remove":
            if device is not None:
                await self.adapters[device.protocol].unpair(device_id)
            self.devices.pop(device_id, None)
            self.store.forget_device(device_id)
            log.info("device %s unpaired", device_id)
            await self._pairing(device_id, "not_paired")
            return
        if device is None:
            log.warning("a %s for device %s, which this gateway has not paired", action, device_id)
            return
        adapter = self.adapters[device.protocol]
        try:
            if action == "set":
                await adapter.control(device, body)
            elif action == "get":
                answer = await adapter.status(device, body)
                await self.answer(device_id, body.get("requestId"), answer)
        except AdapterError as exc:
            log.error("device %s: %s failed: %s", device_id, action, exc)

    async def answer(self, device_id: str, request_id: object, payload: Any) -> None:
        if self.on_premise is not None:
            self.on_premise.status_answer(device_id, payload)
        if self.link is not None and isinstance(request_id, str):
            await self.link.report(
                (device_id, "fetch"),
                {
                    "payload": payload,
                    "requestId": request_id,
                    "deviceId": device_id,
                    "projectId": self.config.project,
                },
                kind=topics.CONTROL,
            )

    # helpers -----------------------------------------------------------------------------------------

    async def _start(self, device: PairedDevice) -> bool:
        adapter = self.adapters.get(device.protocol)
        if adapter is None:
            adapter = self.adapters[device.protocol] = ADAPTERS[device.protocol](
                self.record, self.config.address.client_id
            )
        try:
            paired = await adapter.pair(device)
        except AdapterError as exc:
            log.error("device %s could not be paired: %s", device.id, exc)
            return False
        if paired:
            self.devices[device.id] = device
        return paired

    async def _pairing(self, device_id: str, event: str) -> None:
        log.info("device %s: %s", device_id, event)
        if self.link is not None:
            await self.link.report(("device",), {"status": {"eventType": event}, "deviceId": device_id})

    async def _follow_declared_devices(self) -> None:
        """Devices declared locally (`fieldstation gateway device add|remove`, for a gateway without the
        cloud) are started and stopped as the agent's store changes; one that cannot be paired is tried
        again a minute later."""
        retry_at: dict[str, float] = {}
        while True:
            await asyncio.sleep(DEVICES_CHECK_S)
            declared = {device.id: device for device in self.store.paired()}
            now = time.monotonic()
            for device_id, device in declared.items():
                if device_id not in self.devices and retry_at.get(device_id, 0) <= now:
                    if device.protocol not in self.store.protocols():
                        await self.install(device.protocol, device.parameters)
                    if not await self._start(device):
                        retry_at[device_id] = now + DECLARED_RETRY_S
            for device_id in set(self.devices) - set(declared):
                device = self.devices.pop(device_id)
                await self.adapters[device.protocol].unpair(device_id)
                log.info("device %s removed", device_id)

    async def _flush_logs(self) -> None:
        while True:
            await asyncio.sleep(LOG_FLUSH_S)
            if self.link is None or not self.link.connected.is_set():
                continue
            for container, lines in list(self.logs.lines.items()):
                if lines:
                    batch = list(lines)
                    lines.clear()
                    await self.link.report((container, "logs"), {"logs": batch})
