"""The link's life within the hub's: the files, the embedded broker's process (unless an external broker is
configured), the hub's client. A link that cannot start is logged and the hub serves its APIs without it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from fieldstation.config import REUSE_PORT_ENV, Settings
from fieldstation.core.hub import Hub
from fieldstation.intake.gateway_link.client import BrokerAddress, HubLink, tls_context
from fieldstation.intake.gateway_link.pki import LinkFiles, link_files

log = logging.getLogger("fieldstation.link")

BROKER_START_S = 15.0


class LinkError(Exception):
    pass


def broker_hosts(settings: Settings) -> list[str]:
    hosts = ["localhost", "127.0.0.1", socket.gethostname()]
    if settings.mqtt_public_host:
        hosts.insert(0, settings.mqtt_public_host)
    if settings.host not in ("0.0.0.0", "::", *hosts):
        hosts.append(settings.host)
    return list(dict.fromkeys(hosts))


def external_broker(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtts", "ssl") or not parts.hostname:
        raise LinkError(f"FIELDSTATION_MQTT_URL must be mqtts://host:port (TLS), got {url!r}")
    return parts.hostname, parts.port or 8883


@contextlib.asynccontextmanager
async def gateway_link(settings: Settings, hub: Hub) -> AsyncIterator[HubLink | None]:
    if settings.mqtt_url is None and settings.mqtt_port == 0:
        yield None
        return
    broker: asyncio.subprocess.Process | None = None
    task: asyncio.Task[None] | None = None
    try:
        public_host: str | None
        files = await link_files(hub.certificates, settings.data_dir, broker_hosts(settings))
        if settings.mqtt_url is not None:
            host, port = external_broker(settings.mqtt_url)
            public_host, public_port = settings.mqtt_public_host or host, port
        else:
            broker = await start_embedded(files, settings.mqtt_port, settings.host)
            host, port = (
                "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host,
                settings.mqtt_port,
            )
            public_host, public_port = settings.mqtt_public_host, settings.mqtt_port
        link = HubLink(
            hub,
            BrokerAddress(
                host, port, tls_context(str(files.ca), str(files.hub_certificate), str(files.hub_key))
            ),
            one_of_several=bool(os.environ.get(REUSE_PORT_ENV)),  # set for each worker of several
        )
    except (LinkError, OSError) as exc:
        log.error("the gateways' link is off: %s", exc)
        yield None
        return
    hub.gateways.link = link
    hub.gateways.broker_host, hub.gateways.broker_port = public_host, public_port
    task = asyncio.create_task(link.run(), name="fieldstation-gateway-link")
    try:
        yield link
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if broker is not None:
            await stop_embedded(broker)


async def start_embedded(files: LinkFiles, port: int, bind: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fieldstation.intake.gateway_link.embedded",
        str(port),
        str(files.folder),
        bind,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), BROKER_START_S)
    except TimeoutError:
        line = b""
    if not line.startswith(b"listening"):
        await stop_embedded(process)
        raise LinkError(
            f"the embedded MQTT broker did not start on port {port} (is the port taken? --mqtt-port)"
        )
    log.info("embedded MQTT broker on %s:%s (TLS, client certificates)", bind, port)
    return process


async def stop_embedded(process: asyncio.subprocess.Process) -> None:
    if process.stdin is not None:
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), 5)
    except TimeoutError:
        process.kill()
        await process.wait()
