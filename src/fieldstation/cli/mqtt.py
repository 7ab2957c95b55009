"""`fieldstation mqtt`: the gateways' link through an external broker."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from fieldstation.cli.common import DataDir, console, run, settings_for
from fieldstation.core.hub import Hub
from fieldstation.intake.gateway_link.mosquitto import acl_text, config_text
from fieldstation.intake.gateway_link.pki import link_files
from fieldstation.intake.gateway_link.runner import broker_hosts

mqtt_app = typer.Typer(
    help="The gateways' MQTT link through an external broker (Mosquitto).", no_args_is_help=True
)


@mqtt_app.command("mosquitto-config")
def mosquitto_config(
    data_dir: DataDir = None,
    port: Annotated[int, typer.Option(help="The TLS listener's port.")] = 8883,
    host: Annotated[
        str | None,
        typer.Option(help="The broker's host name as gateways reach it (its certificate is made for it)."),
    ] = None,
    run_as: Annotated[
        str | None,
        typer.Option(
            help="The user Mosquitto runs as, who must be able to read the key files (Mosquitto started as "
            "root drops to `mosquitto` by default)."
        ),
    ] = None,
) -> None:
    """Print a Mosquitto configuration for the link: a TLS listener that requires a gateway certificate of
    this hub, takes the certificate's name as the user name, and confines each gateway to its own topics.
    The certificates and the ACL file are written to the data dir's `mqtt/` folder. Then start the hub with
    FIELDSTATION_MQTT_URL=mqtts://HOST:PORT."""
    settings = settings_for(data_dir, mqtt_public_host=host)

    async def write(hub: Hub) -> str:
        files = await link_files(hub.certificates, settings.data_dir, broker_hosts(settings))
        acl = files.folder / "acl"
        acl.write_text(acl_text())
        user = run_as if run_as is not None else ("root" if os.geteuid() == 0 else None)
        return config_text(files, acl.resolve(), port, run_as=user)

    console.print(run(settings, write), markup=False, highlight=False, soft_wrap=True)
