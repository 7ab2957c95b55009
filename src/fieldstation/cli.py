"""The `fieldstation` command. Other tools and tests script against it: options and JSON output are stable."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fieldstation import __version__
from fieldstation.assembly import DIALECTS, close_hub, open_hub
from fieldstation.config import Settings
from fieldstation.core.clock import MICROS
from fieldstation.core.errors import DomainError
from fieldstation.core.hashing import key_digest
from fieldstation.core.hub import Hub
from fieldstation.core.models import (
    Credential,
    CredentialKind,
    Device,
    IssuedCredential,
    NewDevice,
    Project,
    Reading,
)
from fieldstation.core.projects import CreatedProject
from fieldstation.demo import Demo
from fieldstation.networks import actility

app = typer.Typer(
    help="fieldstation: a self-hosted device-data hub that speaks the Astrocast, AWT and Instathings APIs.",
    no_args_is_help=True,
    add_completion=False,
)
project_app = typer.Typer(
    help="Create and list projects (tenants) and their credentials.", no_args_is_help=True
)
device_app = typer.Typer(help="Add and list devices (tags, sensors, gateways).", no_args_is_help=True)
app.add_typer(project_app, name="project")
app.add_typer(device_app, name="device")

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


def _settings(data_dir: Path | None, **overrides: Any) -> Settings:
    values = {key: value for key, value in overrides.items() if value is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


def _run(settings: Settings, work: Callable[[Hub], Awaitable[T]]) -> T:
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


def _project_json(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "short_id": project.short_id,
        "created_at": project.created_us // MICROS,
        "auto_register": project.auto_register,
        "demo": project.is_demo,
    }


def _created_json(created: CreatedProject) -> dict[str, Any]:
    out: dict[str, Any] = {"project": _project_json(created.project)}
    for kind, issued in created.credentials.items():
        out[kind.value] = _secret_json(issued, created.project)
    return out


def _secret_json(issued: IssuedCredential, project: Project) -> dict[str, Any]:
    if issued.credential.kind is CredentialKind.AWT:
        return {
            "api_key": issued.api_key,
            "username": issued.credential.username,
            "password": issued.password,
        }
    if issued.credential.kind is CredentialKind.INSTATHINGS:
        return {
            "project": project.short_id,
            "client_id": issued.credential.username,
            "client_secret": issued.api_key,
        }
    return {"api_key": issued.api_key}


def _device_json(device: Device) -> dict[str, Any]:
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


async def _create_project(hub: Hub, name: str, demo: bool) -> CreatedProject:
    created = await hub.projects.create(name, auto_register=demo, is_demo=demo)
    if demo:
        await Demo(hub).populate(created.project)
    return created


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command()
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

    settings = _settings(data_dir, host=host, port=port, demo=demo)
    credentials_file = settings.data_dir / DEMO_CREDENTIALS_FILE

    async def prepare(hub: Hub) -> None:
        if settings.demo and not await hub.projects.all():
            console.print("New data directory: creating the demo project with a week of tracking data...")
            created = await _create_project(hub, DEMO_PROJECT, demo=True)
            credentials_file.write_text(json.dumps(_created_json(created), indent=2))
            credentials_file.chmod(0o600)

    _run(settings, prepare)
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]fieldstation {__version__}[/bold] on {base}  (data: {settings.data_dir.resolve()})")
    for dialect in DIALECTS:
        console.print(f"  {dialect.name:<12} {base}{dialect.mount}")
    if credentials_file.exists():
        demo_credentials = json.loads(credentials_file.read_text())
        console.print(f"Demo project credentials (kept in {credentials_file}):")
        console.print_json(json.dumps({k: v for k, v in demo_credentials.items() if k != "project"}))
    for logger in ("uvicorn.access", "uvicorn.error"):  # WebSocket handshakes are logged on the second
        logging.getLogger(logger).addFilter(RedactSecrets())
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http=DeadlineHttpProtocol.with_timeouts(settings.header_timeout_s, settings.body_timeout_s),
        timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        ws_max_size=WS_MAX_MESSAGE_BYTES,
        access_log=os.environ.get("FIELDSTATION_ACCESS_LOG", "1") != "0",
    )


@project_app.command("create")
def project_create(
    name: str,
    demo: Annotated[bool, typer.Option("--demo", help="Fill it with demo tags and a week of fixes.")] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Create a project and its credentials. Secrets are shown now and never again: keep them."""
    created = _run(_settings(data_dir), lambda hub: _create_project(hub, name, demo))
    out = _created_json(created)
    if as_json:
        print(json.dumps(out))
        return
    console.print(f"Project [bold]{name}[/bold] created. Keep these secrets: they are not shown again.")
    console.print_json(json.dumps(out))


@project_app.command("configure")
def project_configure(
    name: str,
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

    project = _run(_settings(data_dir), configure)
    out = _project_json(project) | {"settings": _public_settings(project)}
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
    projects = _run(_settings(data_dir), lambda hub: hub.projects.all())
    if as_json:
        print(json.dumps([_project_json(p) for p in projects]))
        return
    table = Table("id", "name", "short id", "demo")
    for p in projects:
        table.add_row(str(p.id), p.name, p.short_id, "yes" if p.is_demo else "")
    console.print(table)


@device_app.command("add")
def device_add(
    project: Annotated[str, typer.Option(help="Project name.")],
    tag_id: Annotated[int | None, typer.Option(help="AWT tag id (a number).")] = None,
    eui: Annotated[str | None, typer.Option(help="LoRa device EUI / modem IMEI, 16 hex digits.")] = None,
    guid: Annotated[
        str | None,
        typer.Option(help="The device's Astrocast deviceGuid, for a device of a real Astrocast account."),
    ] = None,
    device_type: Annotated[str, typer.Option("--type", help="Modem type: LoRA, Astronode, ...")] = "LoRA",
    name: Annotated[str | None, typer.Option(help="Display name; default 'tag <id>'.")] = None,
    asset: Annotated[str | None, typer.Option(help="What is tracked, e.g. 'Savannah Elephant'.")] = None,
    software_version: Annotated[int | None, typer.Option(help="Firmware version, if known.")] = None,
    codec: Annotated[
        str,
        typer.Option(
            help="How its payloads are read: awt-frame (AWT trackers), astrocast-geo, json, passthrough."
        ),
    ] = "awt-frame",
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Add a device to a project: an AWT tag (--tag-id, --eui), an Astrocast modem (--guid), or both."""
    if tag_id is None and eui is None and guid is None:
        errors.print("[red]error:[/red] give the device an identity: --tag-id and --eui, or --guid")
        raise typer.Exit(2)

    async def add(hub: Hub) -> Device:
        owner = await hub.projects.get(project)
        label = f"tag {tag_id}" if tag_id is not None else f"device {eui or guid}"
        return await hub.devices.add(
            owner,
            NewDevice(
                name=name or label,
                tag_id=tag_id,
                eui=eui,
                guid=guid,
                asset=asset,
                device_type=device_type,
                software_version=software_version,
                codec=codec,
            ),
        )

    device = _run(_settings(data_dir), add)
    if as_json:
        print(json.dumps(_device_json(device)))
    else:
        console.print(
            f"Device {device.name} (tag {device.tag_id}, EUI {device.eui}, GUID {device.guid}) added."
        )


@device_app.command("list")
def device_list(
    project: Annotated[str, typer.Option(help="Project name.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """List a project's devices."""

    async def devices(hub: Hub) -> list[Device]:
        return await hub.devices.list(await hub.projects.get(project))

    found = _run(_settings(data_dir), devices)
    if as_json:
        print(json.dumps([_device_json(d) for d in found]))
        return
    table = Table("tag id", "EUI", "name", "asset", "type", "codec")
    for d in found:
        table.add_row(str(d.tag_id or ""), d.eui or "", d.name, d.asset or "", d.device_type, d.codec)
    console.print(table)


@device_app.command("show")
def device_show(
    project: Annotated[str, typer.Option(help="Project name.")],
    tag_id: Annotated[int | None, typer.Option(help="The device's AWT tag id.")] = None,
    eui: Annotated[str | None, typer.Option(help="The device's EUI.")] = None,
    guid: Annotated[str | None, typer.Option(help="The device's Astrocast deviceGuid.")] = None,
    readings: Annotated[
        int, typer.Option(help="How many of its newest readings to show.", min=0, max=1000)
    ] = 10,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Show one device (by --tag-id, --eui or --guid) and its newest readings, with what decoding noticed:
    errors, CRC mismatches, a frame that names another tag."""

    async def show(hub: Hub) -> tuple[Device, list[Reading]]:
        owner = await hub.projects.get(project)
        device = await hub.devices.find(owner, tag_id=tag_id, eui=eui, guid=guid)
        return device, await hub.devices.recent_readings(device, readings)

    device, recent = _run(_settings(data_dir), show)
    if as_json:
        print(json.dumps({**_device_json(device), "readings": [_reading_json(r) for r in recent]}))
        return
    for field, value in _device_json(device).items():
        console.print(f"[bold]{field:>17}[/bold]  {value if value is not None else ''}")
    table = Table("time (UTC)", "latitude", "longitude", "error / warnings")
    for reading in recent:
        notes = reading.error or "; ".join(reading.warnings)
        table.add_row(
            _utc(reading.time_us), _number(reading.latitude), _number(reading.longitude), escape(notes)
        )
    console.print(table if recent else "No readings yet.")


@device_app.command("edit")
def device_edit(
    device: Annotated[str, typer.Argument(help="The device: its tag id, EUI, GUID or short id.")],
    project: Annotated[str, typer.Option(help="Project name.")],
    tag_id: Annotated[int | None, typer.Option(help="New AWT tag id (every view shows it at once).")] = None,
    name: Annotated[str | None, typer.Option(help="New display name.")] = None,
    asset: Annotated[
        str | None, typer.Option(help="New asset, e.g. 'Savannah Elephant'; '' clears it.")
    ] = None,
    eui: Annotated[str | None, typer.Option(help="New LoRa EUI / IMEI, 16 hex digits.")] = None,
    guid: Annotated[str | None, typer.Option(help="New Astrocast deviceGuid.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Change a device. A running hub serves the change from its next request, in every API (a new tag id
    shows in the AWT readings already stored, too)."""

    async def change(hub: Hub) -> Device:
        owner = await hub.projects.get(project)
        found = await hub.devices.identify(owner, device)
        return await hub.devices.edit(found, name=name, asset=asset, tag_id=tag_id, eui=eui, guid=guid)

    changed = _run(_settings(data_dir), change)
    if as_json:
        print(json.dumps(_device_json(changed)))
    else:
        console.print(
            f"Device {changed.name} (tag {changed.tag_id}, EUI {changed.eui}, GUID {changed.guid}) changed."
        )


@device_app.command("remove")
def device_remove(
    device: Annotated[str, typer.Argument(help="The device: its tag id, EUI, GUID or short id.")],
    project: Annotated[str, typer.Option(help="Project name.")],
    data_dir: DataDir = None,
) -> None:
    """Remove a device with all its uplinks and readings (and a gateway's sub-devices). There is no undo."""

    async def remove(hub: Hub) -> Device:
        owner = await hub.projects.get(project)
        found = await hub.devices.identify(owner, device)
        await hub.devices.delete(found)
        return found

    removed = _run(_settings(data_dir), remove)
    console.print(f"Device {removed.name} (tag {removed.tag_id}) removed, with its readings.")


def _reading_json(reading: Reading) -> dict[str, Any]:
    return {
        "uid": reading.uid,
        "time_us": reading.time_us,
        "inserted_us": reading.inserted_us,
        "latitude": reading.latitude,
        "longitude": reading.longitude,
        "values": reading.values,
        "error": reading.error,
        "warnings": list(reading.warnings),
    }


def _utc(time_us: int) -> str:
    try:
        return datetime.fromtimestamp(time_us / MICROS, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, ValueError, OSError):
        return str(time_us)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


credential_app = typer.Typer(help="Create, list and revoke API credentials.", no_args_is_help=True)
app.add_typer(credential_app, name="credential")


def _credential_json(credential: Credential) -> dict[str, Any]:
    return {
        "id": credential.id,
        "kind": credential.kind.value,
        "username": credential.username,
        "created_at": credential.created_us // MICROS,
        "revoked_at": None if credential.revoked_us is None else credential.revoked_us // MICROS,
    }


@credential_app.command("create")
def credential_create(
    project: Annotated[str, typer.Option(help="Project name.")],
    kind: Annotated[CredentialKind, typer.Option(help="Which API the credential is for.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Issue another credential (a project may hold several). The secret is shown now and never again."""

    async def issue(hub: Hub) -> tuple[Project, IssuedCredential]:
        owner = await hub.projects.get(project)
        return owner, await hub.projects.issue_credential(owner, kind)

    owner, issued = _run(_settings(data_dir), issue)
    out = _credential_json(issued.credential) | _secret_json(issued, owner)
    if as_json:
        print(json.dumps(out))
    else:
        console.print("Keep the secret: it is not shown again.")
        console.print_json(json.dumps(out))


@credential_app.command("list")
def credential_list(
    project: Annotated[str, typer.Option(help="Project name.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """List a project's credentials (never their secrets)."""

    async def listed(hub: Hub) -> list[Credential]:
        return await hub.projects.credentials(await hub.projects.get(project))

    found = _run(_settings(data_dir), listed)
    if as_json:
        print(json.dumps([_credential_json(c) for c in found]))
        return
    table = Table("id", "kind", "username", "created", "revoked")
    for c in found:
        row = _credential_json(c)
        table.add_row(
            str(c.id), c.kind.value, c.username or "", str(row["created_at"]), str(row["revoked_at"] or "")
        )
    console.print(table)


@credential_app.command("revoke")
def credential_revoke(
    credential_id: Annotated[int, typer.Argument(help="The credential's id, from `credential list`.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a credential: a running hub refuses it from its next request on, and closes the WebSocket
    sessions it opened."""

    async def revoke(hub: Hub) -> bool:
        return await hub.projects.revoke_credential(credential_id)

    if not _run(_settings(data_dir), revoke):
        errors.print(f"[red]error:[/red] no active credential with id {credential_id}; see `credential list`")
        raise typer.Exit(2)
    console.print(f"Credential {credential_id} revoked.")


@app.command()
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

    names = _run(_settings(data_dir), switch)
    console.print(f"Maintenance {state} for {', '.join(names) or 'no project'}.")


def main() -> None:
    app()
