"""`fieldstation serve`: the hub, with the demo project on a new data dir."""

from __future__ import annotations

import contextlib
import enum
import gc
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from fieldstation import __version__
from fieldstation.assembly import DIALECTS
from fieldstation.cli.common import (
    DEMO_CREDENTIALS_FILE,
    DEMO_PROJECT,
    DataDir,
    console,
    create_project,
    created_json,
    errors,
    run,
    settings_for,
)
from fieldstation.cli.workers import refusal, shared_socket, supervise
from fieldstation.config import REUSE_PORT_ENV, Settings
from fieldstation.core.hub import Hub
from fieldstation.logs import setup_logging

FIRST_ADMIN = "admin"
"""The operator made on a new data dir; its password is printed with the demo credentials."""
GC_THRESHOLDS = (50_000, 20, 100)
"""The collector's generations, once the hub is up (`_settle_garbage_collector`); Python's are 700, 10, 10."""
STOP_GRACE_S = 10
"""On SIGTERM, requests in flight have this long to finish; then the hub stops anyway. Without it a peer
that stopped reading would hold the stop for ever: a connection waits to send its last bytes before it
closes."""


class LogLevel(enum.StrEnum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


class LogFormatChoice(enum.StrEnum):
    text = "text"
    json = "json"


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on. Env: FIELDSTATION_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on. Env: FIELDSTATION_PORT.")] = None,
    data_dir: DataDir = None,
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo",
            help="Create the demo project on a new data dir (default). Env: FIELDSTATION_DEMO.",
        ),
    ] = None,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            help="The least severe log records written (default info). Env: FIELDSTATION_LOG_LEVEL."
        ),
    ] = None,
    log_format: Annotated[
        LogFormatChoice | None,
        typer.Option(
            help="text: lines for people (default); json: one JSON object per line, for a log collector "
            "(time, level, logger, message, exception; the access log's client, method, path, status). "
            "Env: FIELDSTATION_LOG_FORMAT.",
        ),
    ] = None,
    mqtt_port: Annotated[
        int | None,
        typer.Option(
            help="The embedded MQTT broker's port for gateways (TLS with client certificates; default 8883); "
            "0 turns it off. Not used when FIELDSTATION_MQTT_URL names an external broker. "
            "Env: FIELDSTATION_MQTT_PORT.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes serving the port together (default 1). Above 1 they need PostgreSQL, "
            "Redis (FIELDSTATION_REDIS_URL) and an external MQTT broker or none; the hub says what is "
            "missing. Env: FIELDSTATION_WORKERS.",
        ),
    ] = None,
    quiet_start: Annotated[bool, typer.Option(hidden=True, help="A worker of --workers: no banner.")] = False,
    access_log: Annotated[
        bool | None,
        typer.Option(
            "--access-log/--no-access-log",
            help="A log line per request (off by default: at thousands of uplinks a second it costs more "
            "than it tells). Env: FIELDSTATION_ACCESS_LOG.",
        ),
    ] = None,
) -> None:
    """Run the hub. On a new data dir it first creates the project `demo`, filled with a week of tracking
    data, and prints the base URLs and the credentials to use."""
    import uvicorn

    from fieldstation.app import create_app
    from fieldstation.http.connection import (
        KEEP_ALIVE_S,
        MAX_HEADER_BYTES,
        WS_MAX_MESSAGE_BYTES,
        DeadlineHttpProtocol,
        RedactSecrets,
    )

    settings = settings_for(
        data_dir,
        host=host,
        port=port,
        demo=demo,
        log_level=None if log_level is None else log_level.value,
        log_format=None if log_format is None else log_format.value,
        mqtt_port=mqtt_port,
        workers=workers,
    )
    refused = refusal(settings)
    if refused is None and not os.environ.get(REUSE_PORT_ENV):  # a worker's port is its supervisor's
        refused = _cannot_listen(settings.host, settings.port)
    if refused:
        errors.print(f"[red]error:[/red] {refused}")
        raise typer.Exit(2)
    log_writer = setup_logging(settings.log_level, settings.log_format)
    credentials_file = settings.data_dir / DEMO_CREDENTIALS_FILE

    async def prepare(hub: Hub) -> None:
        kept: dict[str, object] = {}
        if settings.demo and not await hub.projects.all():
            console.print("New data directory: creating the demo project with a week of tracking data...")
            kept |= created_json(await create_project(hub, DEMO_PROJECT, demo=True))
        if not await hub.operators.all():
            admin, secret = await hub.operators.create(FIRST_ADMIN, admin=True)
            kept["portal"] = {"username": admin.username, "password": secret}
        if kept:
            earlier = json.loads(credentials_file.read_text()) if credentials_file.exists() else {}
            credentials_file.write_text(json.dumps(earlier | kept, indent=2))
            credentials_file.chmod(0o600)

    if not quiet_start:
        run(settings, prepare)
        _banner(settings, credentials_file)
    if settings.workers > 1:
        log_writer.stop()
        raise typer.Exit(supervise(settings))

    for logger in ("uvicorn.access", "uvicorn.error"):  # WebSocket handshakes are logged on the second
        logging.getLogger(logger).addFilter(RedactSecrets())
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # set up above: one queue, one writing thread, text or JSON
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http=DeadlineHttpProtocol.with_timeouts(
            settings.header_timeout_s, settings.body_timeout_s, settings.send_timeout_s
        ),
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=STOP_GRACE_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        ws_max_size=WS_MAX_MESSAGE_BYTES,
        ws_per_message_deflate=settings.ws_compression,
        access_log=settings.access_log if access_log is None else access_log,
    )

    class LogFlushingServer(uvicorn.Server):
        """uvicorn, once it has shut down on a signal, raises that signal again, which ends the process
        before `atexit` runs: the last records (the hub's own shutdown) would die in the logging queue.
        They are written out first."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            _settle_garbage_collector()

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                try:
                    yield
                finally:
                    log_writer.stop()

    sockets = [shared_socket(settings.host, settings.port)] if os.environ.get(REUSE_PORT_ENV) else None
    LogFlushingServer(config).run(sockets=sockets)


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the hub could not listen on host:port, found before the demo project and the banner (uvicorn
    said so only after both, as an error of its own)."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        return f"--host {host} is not an address of this machine ({exc.strerror})"
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            return (
                f"cannot listen on {host}:{port} ({exc.strerror}): stop what holds it or give another --port"
            )
    return None


def _settle_garbage_collector() -> None:
    """What the process holds once the hub is up (the libraries' modules, the app, the hub's caches: some
    130,000 objects) lives as long as the process: it is frozen out of the cyclic collector's walks, and the
    young generation is collected every 50,000 allocations rather than every 700. Before, a full collection
    walked all of them every few hundred uplinks, 100 ms and more each time on a small machine, on the event
    loop; ingest now takes 10 to 18 % more uplinks a second (docs/performance.md). Garbage without cycles is
    freed at once whatever the thresholds; what a cycle holds waits a little longer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    logging.getLogger("fieldstation").info(
        "garbage collector settled: %d objects frozen, young collections every %d allocations",
        gc.get_freeze_count(),
        GC_THRESHOLDS[0],
    )


def _banner(settings: Settings, credentials_file: Path) -> None:
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]fieldstation {__version__}[/bold] on {base}  (data: {settings.data_dir.resolve()})")
    for dialect in DIALECTS:
        console.print(f"  {dialect.name:<12} {base}{dialect.mount}")
    if settings.mqtt_url:
        console.print(f"  gateways     {settings.mqtt_url} (external broker)")
    elif settings.mqtt_port:
        console.print(f"  gateways     mqtts://{settings.host}:{settings.mqtt_port} (embedded broker)")
    if settings.workers > 1:
        console.print(f"  {settings.workers} workers on PostgreSQL and Redis")
    console.print(f"  {'portal':<12} {base}/  (user admin, its password below)")
    if credentials_file.exists():
        demo_credentials = json.loads(credentials_file.read_text())
        console.print(f"Credentials (kept in {credentials_file}):")
        console.print_json(json.dumps({k: v for k, v in demo_credentials.items() if k != "project"}))
