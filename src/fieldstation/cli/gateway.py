"""`fieldstation gateway`: the gateway agent, run on the gateway itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from fieldstation.cli.common import errors
from fieldstation.cli.serve import LogLevel
from fieldstation.gateway.config import ConfigError, load, unpack_bundle, with_overrides

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
        settings = with_overrides(load(env_file, data_dir), outbox_max_records=outbox_max_records)
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
