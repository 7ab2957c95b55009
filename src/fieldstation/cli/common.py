"""What every command group shares: the console, options, running a command against the hub, JSON shapes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console

from fieldstation.assembly import close_hub, open_hub
from fieldstation.config import Settings
from fieldstation.core.clock import MICROS
from fieldstation.core.errors import DomainError
from fieldstation.core.hub import Hub
from fieldstation.core.models import Device, Project
from fieldstation.core.projects import CreatedProject, credential_secrets
from fieldstation.demo import Demo

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")

DEMO_PROJECT = "demo"
DEMO_CREDENTIALS_FILE = "demo-credentials.json"

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (SQLite database, demo credentials). Env: FIELDSTATION_DATA_DIR; "
        "default ./fieldstation-data.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
ProjectName = Annotated[str, typer.Argument(help="The project's name, as in its URLs and its portal pages.")]
Username = Annotated[str, typer.Argument(help="The operator's username (their portal sign-in).")]


def settings_for(data_dir: Path | None, **overrides: Any) -> Settings:
    """The settings from the environment (`FIELDSTATION_*`), the options given and the data dir; a value
    that cannot be used ends the command with what is wrong with it, not a traceback."""
    values = {key: value for key, value in overrides.items() if value is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        for problem in exc.errors():
            name = ".".join(str(part) for part in problem["loc"]) or "a setting"
            where = f"--{name.replace('_', '-')}" if name in values else f"FIELDSTATION_{name.upper()}"
            errors.print(f"[red]error:[/red] {where}: {problem['msg']} (got {problem.get('input')!r})")
        raise typer.Exit(2) from None
    except SettingsError as exc:  # an environment variable that is not the JSON it must be
        errors.print(f"[red]error:[/red] {exc} ({exc.__cause__}); see docs/configuration.md")
        raise typer.Exit(2) from None
    _check_data_dir(settings.data_dir)
    return settings


def _check_data_dir(data_dir: Path) -> None:
    """A data dir the hub can use: a directory it can write, or one it can make."""
    existing = data_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == data_dir and not data_dir.is_dir():
        problem = "is a file, not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = "is not writable by this user" if existing == data_dir else f"cannot be made in {existing}"
    else:
        return
    errors.print(f"[red]error:[/red] the data dir {data_dir} {problem}: give another with --data-dir")
    raise typer.Exit(2)


def run(settings: Settings, work: Callable[[Hub], Awaitable[T]]) -> T:
    async def main() -> T:
        hub = await open_hub(settings)
        try:
            return await work(hub)
        finally:
            await close_hub(hub)

    try:
        return asyncio.run(main())
    except DomainError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def minute_text(epoch_s: int | None) -> str:
    """A moment as a table shows it: UTC, to the minute; empty for none."""
    return "" if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M")


def project_json(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "short_id": project.short_id,
        "created_at": project.created_us // MICROS,
        "auto_register": project.auto_register,
        "demo": project.is_demo,
    }


def created_json(created: CreatedProject) -> dict[str, Any]:
    out: dict[str, Any] = {"project": project_json(created.project)}
    for kind, issued in created.credentials.items():
        out[kind.value] = credential_secrets(issued, created.project)
    return out


def device_json(device: Device) -> dict[str, Any]:
    return {
        "id": device.id,
        "guid": device.guid,
        "short_id": device.short_id,
        "name": device.name,
        "tag_id": device.tag_id,
        "eui": device.eui,
        "asset": device.asset,
        "device_type": device.device_type,
        "software_version": device.software_version,
        "codec": device.codec,
        "created_at": device.created_us // MICROS,
    }


async def create_project(hub: Hub, name: str, demo: bool) -> CreatedProject:
    created = await hub.projects.create(name, auto_register=demo, is_demo=demo)
    if demo:
        await Demo(hub).populate(created.project)
    return created


def moment_us(text: str, option: str) -> int:
    """Epoch seconds, or an ISO 8601 date or time (UTC unless it says otherwise)."""
    value = text.strip()
    if value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value) * MICROS
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors.print(
            f"[red]error:[/red] {option} {text!r} is not a time: give epoch seconds or an ISO 8601 date or "
            "time, e.g. 2026-11-01 or 2026-11-01T06:00:00Z"
        )
        raise typer.Exit(2) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * MICROS)
