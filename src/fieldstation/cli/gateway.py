"""`fieldstation gateway`: the gateway agent, run on the gateway itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from fieldstation.cli.common import console, errors
from fieldstation.cli.serve import LogLevel
from fieldstation.gateway.config import ConfigError, load, unpack_bundle, with_overrides
from fieldstation.gateway.onpremise.api import DEVICE_ID
from fieldstation.gateway.outbox import AgentStore, PairedDevice
from fieldstation.link.protocols import HTTP, MQTT, VIRTUAL

gateway_app = typer.Typer(
    help="The gateway agent: connects a gateway to the hub with its certificate bundle, pairs its devices "
    "(virtual, HTTP, MQTT bridges) and forwards their data with nothing lost.",
    no_args_is_help=True,
)


@gateway_app.command("run")
def run(
    config: Annotated[
        Path | None,
        typer.Option(help="The .env of the gateway's certificate bundle (its other files beside it)."),
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option(
            help="The certificate bundle (zip) as the hub gave it: unpacked next to it, into a folder of "
            "its name, and used from there. Instead of --config.",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the outbox and the paired devices are kept (default: `data` next to the .env)."
        ),
    ] = None,
    on_premise_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65_535,
            help="Serve the on-premise API (REST and socket.io) on this port, whatever the .env says "
            "(.env: ON_PREMISE_ENABLED, ON_PREMISE_PORT, default 1234).",
        ),
    ] = None,
    outbox_max_records: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Records the outbox may hold while the hub cannot be reached; beyond it new records are "
            "refused, loudly. Default 1,000,000 (.env: OUTBOX_MAX_RECORDS).",
        ),
    ] = None,
    log_level: Annotated[
        LogLevel, typer.Option(help="The least severe log records written.")
    ] = LogLevel.info,
) -> None:
    """Run the agent until stopped (Ctrl-C or SIGTERM: it says goodbye to the hub first)."""
    from fieldstation.gateway.agent import Agent

    if (config is None) == (bundle is None):
        errors.print("[red]error:[/red] give one of --config DIR/.env or --bundle ZIP")
        raise typer.Exit(2)
    try:
        if config is not None:
            env_file = config
        else:
            assert bundle is not None
            env_file = unpack_bundle(bundle, bundle.with_suffix(""))
        settings = with_overrides(
            load(env_file, data_dir),
            outbox_max_records=outbox_max_records,
            on_premise_port=on_premise_port,
            on_premise_enabled=True if on_premise_port is not None else None,
        )
    except (ConfigError, OSError) as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        agent = Agent(settings)
        task = asyncio.create_task(agent.run())
        stopping: list[asyncio.Task[None]] = []
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: stopping.append(asyncio.create_task(agent.stop(task))))
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())


device_app = typer.Typer(
    help="Devices declared on the gateway itself, for a gateway without the cloud (CLOUD_ENABLED=false); "
    "a running agent picks changes up within seconds.",
    no_args_is_help=True,
)
gateway_app.add_typer(device_app, name="device")

ConfigOption = Annotated[Path, typer.Option(help="The gateway's .env.")]
ADAPTER_NAMES = {"virtual": VIRTUAL, "http": HTTP, "mqtt": MQTT}
ADAPTER_SLUGS = {protocol: slug for slug, protocol in ADAPTER_NAMES.items()}


@device_app.command("add")
def device_add(
    config: ConfigOption,
    device_id: Annotated[str, typer.Option("--id", help="The device's id: 7 to 14 ASCII characters.")],
    kind: Annotated[str, typer.Option("--type", help="virtual, http or mqtt (the adapter).")],
    parameters: Annotated[
        str,
        typer.Option(
            help='What the adapter needs, as JSON: {"frequency": 60} (virtual), {"host": "10.0.0.7:80"} '
            '(http), {"friendlyName": "lamp", "broker": "mqtt://127.0.0.1:1883"} (mqtt).'
        ),
    ] = "{}",
    name: Annotated[str | None, typer.Option(help="A name for people (default: the id).")] = None,
) -> None:
    """Declare a device on this gateway."""
    if not DEVICE_ID.fullmatch(device_id):
        _fail("--id must be 7 to 14 ASCII characters (letters, digits, punctuation; no spaces)")
    if kind not in ADAPTER_NAMES:
        _fail(f"--type must be one of {', '.join(ADAPTER_NAMES)}")
    try:
        values = json.loads(parameters)
    except json.JSONDecodeError as exc:
        _fail(f"--parameters is not JSON: {exc}")
    if not isinstance(values, dict):
        _fail("--parameters must be a JSON object")
    store = _store(config)
    before = next((device for device in store.paired() if device.id == device_id), None)
    store.keep_device(PairedDevice(device_id, ADAPTER_NAMES[kind], name or device_id, values, {}))
    if before is None:
        console.print(f"device {device_id} ({kind}) declared")
    else:  # one id names one device: declaring it again is changing it, and says so
        was = f"{ADAPTER_SLUGS.get(before.protocol, before.protocol)}, {json.dumps(before.parameters)}"
        console.print(f"device {device_id} ({kind}) declared again, in place of the one before ({was})")


@device_app.command("list")
def device_list(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of lines.")] = False,
) -> None:
    """The devices this gateway has, declared here or paired through the cloud."""
    devices = [
        {
            "id": d.id,
            "type": ADAPTER_SLUGS.get(d.protocol, d.protocol),
            "name": d.name,
            "parameters": d.parameters,
        }
        for d in _store(config).paired()
    ]
    if as_json:
        print(json.dumps(devices))
        return
    for device in devices:
        console.print(
            f"{device['id']:<15} {device['type']:<8} {device['name']}  {json.dumps(device['parameters'])}"
        )


@device_app.command("remove")
def device_remove(
    config: ConfigOption,
    device_id: Annotated[str, typer.Option("--id", help="The id it was declared with (see device list).")],
) -> None:
    """Forget a device (its local data stays until the retention removes it)."""
    if not _store(config).forget_device(device_id):
        _fail(f"no device {device_id} on this gateway; `fieldstation gateway device list` shows them")
    console.print(f"device {device_id} removed")


def _store(config: Path) -> AgentStore:
    try:
        settings = load(config)
    except ConfigError as exc:
        _fail(str(exc))
    return AgentStore(settings.data_dir, settings.outbox_max_records)


def _fail(message: str) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)
