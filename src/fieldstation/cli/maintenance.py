"""`fieldstation maintenance`: the Astrocast API's maintenance mode, per project or for all."""

from __future__ import annotations

from typing import Annotated

import typer

from fieldstation.cli.common import DataDir, console, errors, run, settings_for
from fieldstation.core.hub import Hub


def maintenance(
    state: Annotated[str, typer.Argument(help="on or off")],
    project: Annotated[str | None, typer.Option(help="One project; default every project.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Put projects in maintenance: the Astrocast API answers 503 with Retry-After: 900 until it is off."""
    if state not in ("on", "off"):
        errors.print("[red]error:[/red] say `maintenance on` or `maintenance off`")
        raise typer.Exit(2)

    async def switch(hub: Hub) -> list[str]:
        targets = [await hub.projects.get(project)] if project else await hub.projects.all()
        for target in targets:
            await hub.projects.configure(target, maintenance=True if state == "on" else None)
        return [target.name for target in targets]

    names = run(settings_for(data_dir), switch)
    console.print(f"Maintenance {state} for {', '.join(names) or 'no project'}.")
