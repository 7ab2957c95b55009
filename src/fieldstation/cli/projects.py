"""`fieldstation project`: create, configure and list projects (tenants)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from fieldstation.cli.common import (
    AsJson,
    DataDir,
    ProjectName,
    console,
    create_project,
    created_json,
    errors,
    project_json,
    run,
    settings_for,
)
from fieldstation.core.hashing import key_digest
from fieldstation.core.hub import Hub
from fieldstation.core.models import Project
from fieldstation.networks import actility

project_app = typer.Typer(
    help="Create and list projects (tenants) and their credentials.", no_args_is_help=True
)


@project_app.command("create")
def project_create(
    name: ProjectName,
    demo: Annotated[bool, typer.Option("--demo", help="Fill it with demo tags and a week of fixes.")] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Create a project and its credentials. Secrets are shown now and never again: keep them."""
    created = run(settings_for(data_dir), lambda hub: create_project(hub, name, demo))
    out = created_json(created)
    if as_json:
        print(json.dumps(out))
        return
    console.print(f"Project [bold]{name}[/bold] created. Keep these secrets: they are not shown again.")
    console.print_json(json.dumps(out))


@project_app.command("configure")
def project_configure(
    name: ProjectName,
    auto_register: Annotated[
        bool | None,
        typer.Option(
            "--auto-register/--no-auto-register",
            help="Create a device from its first uplink when its EUI is unknown (else the uplink gets 404).",
            show_default=False,
        ),
    ] = None,
    actility_as_key: Annotated[
        str | None,
        typer.Option(help="ThingPark AS key: Actility uplinks must then carry a valid Token. '' removes it."),
    ] = None,
    astrocast_callback_secret: Annotated[
        str | None,
        typer.Option(
            help="Secret that Astrocast push callbacks must carry (set the same in the Astrocast portal)."
        ),
    ] = None,
    astrocast_callback_header: Annotated[
        str | None, typer.Option(help="Header that carries that secret; default X-Callback-Secret.")
    ] = None,
    instathings_env: Annotated[
        str | None,
        typer.Option(help="sandbox (certificates as JSON) or live (certificates as a zip for the gateway)."),
    ] = None,
    retention_days: Annotated[
        int | None, typer.Option(min=1, help="Keep readings this many days; older ones are purged hourly.")
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Change a project's settings."""
    if instathings_env not in (None, "sandbox", "live"):
        errors.print("[red]error:[/red] --instathings-env is sandbox or live")
        raise typer.Exit(2)

    async def configure(hub: Hub) -> Project:
        project = await hub.projects.get(name)
        changes: dict[str, Any] = {}
        if actility_as_key is not None:
            changes[actility.AS_KEY_SETTING] = actility_as_key or None
        if astrocast_callback_secret is not None:
            secret = astrocast_callback_secret
            changes["astrocast_callback_secret_sha256"] = key_digest(secret) if secret else None
        if instathings_env is not None:
            changes["instathings_env"] = instathings_env
        if retention_days is not None:
            changes["retention_days"] = retention_days
        if astrocast_callback_header is not None:
            changes["astrocast_callback_header"] = astrocast_callback_header or None
        return await hub.projects.configure(project, auto_register=auto_register, **changes)

    project = run(settings_for(data_dir), configure)
    out = project_json(project) | {"settings": _public_settings(project)}
    if as_json:
        print(json.dumps(out))
    else:
        console.print_json(json.dumps(out))


def _public_settings(project: Project) -> dict[str, Any]:
    """Settings as an operator may see them again: keys are shown as set or not, never in clear."""
    secret = ("_key", "_sha256")
    return {key: "(set)" if key.endswith(secret) else value for key, value in project.settings.items()}


@project_app.command("list")
def project_list(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """List the projects."""
    projects = run(settings_for(data_dir), lambda hub: hub.projects.all())
    if as_json:
        print(json.dumps([project_json(p) for p in projects]))
        return
    table = Table("id", "name", "short id", "demo")
    for p in projects:
        table.add_row(str(p.id), p.name, p.short_id, "yes" if p.is_demo else "")
    console.print(table)
