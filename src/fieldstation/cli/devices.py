"""`fieldstation device`: add, list, show, edit and remove devices."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from fieldstation.cli.common import AsJson, DataDir, console, device_json, errors, run, settings_for
from fieldstation.core.clock import MICROS
from fieldstation.core.hub import Hub
from fieldstation.core.models import Device, NewDevice, Reading

device_app = typer.Typer(
    help="Add, list, show, edit and remove devices (tags, sensors, gateways).", no_args_is_help=True
)


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
            help="How its payloads are read: awt-frame (AWT trackers), astrocast-geo, json, passthrough, or "
            "awt-reading (AWT Reading objects, as an import from AWT brings them)."
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

    _report(run(settings_for(data_dir), add), "added", as_json)


@device_app.command("list")
def device_list(
    project: Annotated[str, typer.Option(help="Project name.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """List a project's devices."""

    async def devices(hub: Hub) -> list[Device]:
        return await hub.devices.list(await hub.projects.get(project))

    found = run(settings_for(data_dir), devices)
    if as_json:
        print(json.dumps([device_json(d) for d in found]))
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

    device, recent = run(settings_for(data_dir), show)
    if as_json:
        print(json.dumps({**device_json(device), "readings": [_reading_json(r) for r in recent]}))
        return
    for field, value in device_json(device).items():
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

    _report(run(settings_for(data_dir), change), "changed", as_json)


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

    removed = run(settings_for(data_dir), remove)
    console.print(f"Device {removed.name} (tag {removed.tag_id}) removed, with its readings.")


def _report(device: Device, what: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(device_json(device)))
    else:
        console.print(
            f"Device {device.name} (tag {device.tag_id}, EUI {device.eui}, GUID {device.guid}) {what}."
        )


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
