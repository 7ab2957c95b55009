"""`fieldstation import`: copy a vendor account (devices and history) into a project, and with `--follow`
keep mirroring it until the devices are pointed at fieldstation (docs/migrating.md)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

import httpx
import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from fieldstation.cli.common import AsJson, DataDir, console, errors, moment_us, run, settings_for
from fieldstation.client import AsyncAstrocastClient, AsyncAwtClient, AsyncInstathingsClient
from fieldstation.client.astrocast import VENDOR_BASE_URL as ASTROCAST_URL
from fieldstation.client.awt import VENDOR_BASE_URL as AWT_URL
from fieldstation.client.errors import ApiError, GaveUp, UnexpectedAnswer
from fieldstation.client.exchange import Call, Policy, RepeatedPage
from fieldstation.core.clock import MICROS
from fieldstation.core.hub import Hub
from fieldstation.imports import Checkpoint, Tally, tally_json
from fieldstation.imports.astrocast import AstrocastImport
from fieldstation.imports.awt import AwtImport
from fieldstation.imports.instathings import InstathingsImport

import_app = typer.Typer(
    help="Copy a vendor account's devices and history into a project, then (--follow) keep mirroring it.",
    no_args_is_help=True,
)

Project = Annotated[
    str, typer.Option("--project", help="The project to import into (`fieldstation project create NAME`).")
]
Since = Annotated[
    str | None,
    typer.Option(
        help="Only history from this time: epoch seconds or ISO 8601 (UTC by default). Default: all of it."
    ),
]
Follow = Annotated[
    bool,
    typer.Option(
        "--follow",
        help="After the history, keep pulling new records until stopped (Ctrl-C). Stop and run again at any "
        "time: the import resumes from its checkpoint and adds nothing twice.",
    ),
]


@contextlib.contextmanager
def progress_bar(unit: str) -> Iterator[Callable[[Tally], None]]:
    """A watcher drawing the import's progress with an ETA on standard error (on a terminal)."""
    bar = Progress(
        TextColumn("importing"), BarColumn(), TextColumn("{task.fields[records]}"), TimeRemainingColumn(),
        console=errors, disable=not errors.is_terminal, transient=True,
    )  # fmt: skip
    task: TaskID | None = None
    following = False

    def watch(tally: Tally) -> None:
        nonlocal task, following
        counts = f"{tally.records:,} new, {tally.already_there:,} already there"
        if tally.following:
            if not following:
                following = True
                bar.stop()
                errors.print(f"history done ({counts}); following new records, Ctrl-C to stop")
            return
        if task is None:
            task = bar.add_task("import", total=tally.span, records=counts)
        bar.update(task, completed=tally.covered, total=tally.span, records=f"{counts} ({unit})")

    with bar:
        yield watch


def say_waits(policy: Policy) -> None:
    """A long pause is said on standard error: the import is waiting, not stuck. (Not the 10 s between two
    calls of AWT's /data/latest while following: those are its rhythm.)"""

    def waiting(call: Call, seconds: float, why: str) -> None:
        if seconds >= 15:
            errors.print(f"waiting {seconds:.0f} s before {call.method} {call.path} ({why})")

    policy.on_wait = waiting


def _finish(tally: Tally, as_json: bool, stopped: bool) -> None:
    if as_json:
        print(json.dumps(tally_json(tally) | {"stopped": stopped}))
        return
    state = "stopped; run the same command again to resume" if stopped else "done"
    console.print(
        f"import {state}: {tally.devices_created} devices created, {tally.records:,} records stored, "
        f"{tally.already_there:,} already there"
        + (f", {tally.refused_count:,} refused" if tally.refused_count else "")
    )
    for why in tally.refused:
        console.print(f"  refused: {why}")


async def _interruptible(tally: Tally, work: Awaitable[Tally], as_json: bool, follow: bool) -> Tally:
    """The import's result; stopped (Ctrl-C), what it did so far is said before the command ends."""
    try:
        return await work
    except BaseException:
        if follow or tally.records:
            _finish(tally, as_json, stopped=True)
        raise


def _import(data_dir: DataDir, work: Callable[[Hub], Awaitable[Tally]], as_json: bool) -> None:
    try:
        tally = run(settings_for(data_dir), work)
    except KeyboardInterrupt:
        errors.print("stopped")
        raise typer.Exit(130) from None
    except UnexpectedAnswer as exc:
        errors.print(f"[red]error:[/red] {exc.url} is not the API it should be ({exc.body}); check --from")
        raise typer.Exit(1) from None
    except ApiError as exc:
        errors.print(f"[red]error:[/red] the source answered {exc.status}: {exc.body}")
        if exc.status == 401:
            errors.print("check the credentials given (--api-key and the others, or their variables)")
        raise typer.Exit(1) from None
    except httpx.HTTPError as exc:
        errors.print(f"[red]error:[/red] the source cannot be reached: {exc}; check --from and the network")
        raise typer.Exit(1) from None
    except RepeatedPage as exc:
        errors.print(f"[red]error:[/red] {exc}; check --from")
        raise typer.Exit(1) from None
    except GaveUp as exc:
        errors.print(f"[red]error:[/red] {exc}; try again later")
        raise typer.Exit(1) from None
    _finish(tally, as_json, stopped=False)


@import_app.command("awt")
def import_awt(
    project: Project,
    source: Annotated[
        str, typer.Option("--from", help="The AWT API's base URL (another fieldstation: http://host/awt/v2).")
    ] = AWT_URL,
    api_key: Annotated[str, typer.Option(envvar="AWT_API_KEY", help="The account's API key.")] = "",
    username: Annotated[str, typer.Option(envvar="AWT_USERNAME", help="The account's user name.")] = "",
    password: Annotated[
        str, typer.Option(envvar="AWT_PASSWORD", help="The account's password.", show_default=False)
    ] = "",
    since: Since = None,
    follow: Follow = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Copy an AWT account: its tags, then its readings by reading time from the archive, with their
    recordIds. The seed's rate limits are kept (a 50,000-reading archive page every 30 s). With --follow,
    /data/latest every 10 s.

    Credentials from the options or from AWT_API_KEY, AWT_USERNAME and AWT_PASSWORD."""
    missing = [name for name, value in (("--api-key", api_key), ("--username", username)) if not value]
    missing += ["--password"] if not password else []
    if missing:
        errors.print(
            f"[red]error:[/red] give {', '.join(missing)} (or AWT_API_KEY, AWT_USERNAME, AWT_PASSWORD)"
        )
        raise typer.Exit(2)
    since_s = None if since is None else moment_us(since, "--since") // MICROS
    settings = settings_for(data_dir)

    async def work(hub: Hub) -> Tally:
        owner = await hub.projects.get(project)
        checkpoint = Checkpoint(settings.data_dir, project, "awt", source, api_key)
        with progress_bar("readings") as watch:
            async with AsyncAwtClient(api_key, username, password, base_url=source) as client:
                say_waits(client.policy)
                importer = AwtImport(hub, owner, client, checkpoint, watch)
                return await _interruptible(importer.tally, importer.run(since_s, follow), as_json, follow)

    _import(data_dir, work, as_json)


@import_app.command("astrocast")
def import_astrocast(
    project: Project,
    source: Annotated[
        str,
        typer.Option(
            "--from", help="The Pull API's base URL (another fieldstation: http://host/astrocast/v1)."
        ),
    ] = ASTROCAST_URL,
    api_key: Annotated[str, typer.Option(envvar="ASTROCAST_API_KEY", help="The account's API key.")] = "",
    since: Since = None,
    follow: Follow = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Copy an Astrocast account: its devices, then its messages a day of received dates at a time, with
    their messageGuids. Without --since, from 2021 (the whole history). With --follow, the new messages
    every minute.

    The key from --api-key or ASTROCAST_API_KEY."""
    if not api_key:
        errors.print("[red]error:[/red] give --api-key (or ASTROCAST_API_KEY)")
        raise typer.Exit(2)
    start = None if since is None else datetime.fromtimestamp(moment_us(since, "--since") / MICROS, UTC)
    settings = settings_for(data_dir)

    async def work(hub: Hub) -> Tally:
        owner = await hub.projects.get(project)
        checkpoint = Checkpoint(settings.data_dir, project, "astrocast", source, api_key)
        with progress_bar("messages") as watch:
            async with AsyncAstrocastClient(api_key, base_url=source) as client:
                say_waits(client.policy)
                importer = AstrocastImport(hub, owner, client, checkpoint, watch)
                return await _interruptible(importer.tally, importer.run(start, follow), as_json, follow)

    _import(data_dir, work, as_json)


@import_app.command("instathings")
def import_instathings(
    project: Project,
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="The API's base URL: https://PROJECT.instathings.io, or another fieldstation's "
            "http://host/instathings.",
        ),
    ],
    client_id: Annotated[str, typer.Option(envvar="INSTATHINGS_CLIENT_ID", help="The OAuth client id.")] = "",
    client_secret: Annotated[
        str,
        typer.Option(envvar="INSTATHINGS_CLIENT_SECRET", help="The OAuth client secret.", show_default=False),
    ] = "",
    ws_url: Annotated[
        str | None,
        typer.Option(help="The WebSocket URL for --follow (default: the vendor's, or /ws under --from)."),
    ] = None,
    since: Since = None,
    follow: Follow = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Copy an Instathings project: its gateways and devices, then every device's data records, with their
    ids. With --follow, the data events of the WebSocket.

    Credentials from the options or from INSTATHINGS_CLIENT_ID and INSTATHINGS_CLIENT_SECRET."""
    if not client_id or not client_secret:
        errors.print(
            "[red]error:[/red] give --client-id and --client-secret "
            "(or INSTATHINGS_CLIENT_ID, INSTATHINGS_CLIENT_SECRET)"
        )
        raise typer.Exit(2)
    since_ms = None if since is None else moment_us(since, "--since") // 1000
    settings = settings_for(data_dir)

    async def work(hub: Hub) -> Tally:
        owner = await hub.projects.get(project)
        checkpoint = Checkpoint(settings.data_dir, project, "instathings", source, client_id)
        with progress_bar("devices") as watch:
            async with AsyncInstathingsClient(
                client_id, client_secret, base_url=source, ws_url=ws_url
            ) as client:
                say_waits(client.policy)
                importer = InstathingsImport(hub, owner, client, checkpoint, watch)
                return await _interruptible(importer.tally, importer.run(since_ms, follow), as_json, follow)

    _import(data_dir, work, as_json)
