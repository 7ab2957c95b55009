"""The `fieldstation` command, a module per command group. Other tools and tests script against it: options
and JSON output are stable."""

from __future__ import annotations

import typer

from fieldstation import __version__
from fieldstation.cli.common import console
from fieldstation.cli.credentials import credential_app
from fieldstation.cli.devices import device_app
from fieldstation.cli.exports import export_command
from fieldstation.cli.gateway import gateway_app
from fieldstation.cli.imports import import_app
from fieldstation.cli.maintenance import maintenance
from fieldstation.cli.mqtt import mqtt_app
from fieldstation.cli.projects import project_app
from fieldstation.cli.serve import serve
from fieldstation.cli.users import user_app

app = typer.Typer(
    help="fieldstation: a self-hosted device-data hub that speaks the Astrocast, AWT and Instathings APIs.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


app.command()(serve)
app.add_typer(project_app, name="project")
app.add_typer(device_app, name="device")
app.add_typer(credential_app, name="credential")
app.command()(maintenance)
app.command("export")(export_command)
app.add_typer(import_app, name="import")
app.add_typer(gateway_app, name="gateway")
app.add_typer(mqtt_app, name="mqtt")
app.add_typer(user_app, name="user")


def main() -> None:
    app()
