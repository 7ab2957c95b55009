"""`fieldstation export`: a project's tracks (or one device's) over a period, to a file or standard output,
in the formats other tools read (fieldstation/export/formats.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from fieldstation.cli.common import DataDir, errors, moment_us, run, settings_for
from fieldstation.core.hub import Hub
from fieldstation.export import FORMATS, OPEN_END_US, export


class ExportFormat(StrEnum):
    csv = "csv"
    geojson = "geojson"
    gpx = "gpx"
    kml = "kml"
    movebank = "movebank"


@contextlib.contextmanager
def destination(output: Path | None) -> Iterator[TextIO]:
    """Standard output, or `output` written under a temporary name and renamed once complete: an export
    cut short leaves nothing that looks whole."""
    if output is None:
        yield sys.stdout
        return
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as target:
            yield target
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _writable_file(output: Path) -> str | None:
    """Why `--output` cannot be written, if it cannot: found before the export's work, not after."""
    if output.is_dir():
        return f"--output {output} is a directory: name a file in it"
    if not output.parent.is_dir():
        return f"--output {output}: the directory {output.parent} does not exist"
    if not os.access(output.parent, os.W_OK | os.X_OK):
        return f"--output {output}: the directory {output.parent} is not writable by this user"
    return None


def export_command(
    project: Annotated[str, typer.Option(help="Project name.")],
    export_format: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="csv (RFC 4180), geojson (a Point per fix, a LineString per individual), gpx (GPX 1.1, a "
            "track per individual), kml, or movebank (Movebank's import columns).",
        ),
    ],
    device: Annotated[
        str | None,
        typer.Option(help="Only this device: its tag id, EUI, GUID or short id. Default: every device."),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Fixes taken at or after: epoch seconds or ISO 8601 (UTC by default).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Fixes taken at or before: epoch seconds or ISO 8601 (UTC by default).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file (default: standard output).", show_default=False)
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Export the tracks of a project, or of one device, over a period.

    Fixes only (readings with a position and no parse error), each individual's oldest first.

    Streamed: a year of a hundred tags never sits in memory. A file is written whole or not at all.

    On a terminal, a progress bar shows on standard error."""
    since_us = 0 if start is None else moment_us(start, "--start")
    until_us = OPEN_END_US if end is None else moment_us(end, "--end")
    if until_us < since_us:
        errors.print("[red]error:[/red] --end is before --start")
        raise typer.Exit(2)
    if output is None and sys.stdout is sys.__stdout__:  # the process's own (a test's runner has its own)
        # A reader that stops early (`| head`) ends the export as it ends `cat`: quietly, by SIGPIPE.
        # Python turns the signal into an exception raised deep in the stream, and then complained of the
        # half-read generators and of stdout at exit, for a pipe that did what pipes do.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    unwritable = None if output is None else _writable_file(output)
    if unwritable is not None:
        errors.print(f"[red]error:[/red] {unwritable}")
        raise typer.Exit(2)

    async def write(hub: Hub) -> int:
        owner = await hub.projects.get(project)
        devices = (
            [await hub.devices.identify(owner, device)]
            if device is not None
            else sorted(await hub.devices.list(owner), key=lambda d: (d.asset or d.name, d.id))
        )
        total = await hub.readings.count_fixes(devices, since_us, until_us)
        progress = Progress(
            TextColumn("exporting"), BarColumn(), TextColumn("{task.completed:,} of {task.total:,} fixes"),
            TimeRemainingColumn(), console=errors, disable=not errors.is_terminal, transient=True,
        )  # fmt: skip
        with destination(output) as target, progress:
            task = progress.add_task("export", total=total)
            pieces = export(
                hub, devices, since_us, until_us, export_format.value, lambda n: progress.advance(task, n)
            )
            async for piece in pieces:
                target.write(piece)
        return total

    exported = run(settings_for(data_dir), write)
    if output is not None:
        errors.print(f"{exported:,} fixes written to {output} ({FORMATS[export_format.value].media_type})")
