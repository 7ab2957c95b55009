"""`fieldstation user`: the portal's operator accounts. Passwords are made here and shown once, unless given
on standard input (`--password-stdin`, for scripts)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from fieldstation.cli.common import AsJson, DataDir, Username, console, minute_text, run, settings_for
from fieldstation.core.clock import MICROS
from fieldstation.core.hub import Hub
from fieldstation.core.models import Operator

user_app = typer.Typer(
    help="Operator accounts of the portal (the web pages at the hub's root URL).", no_args_is_help=True
)

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from standard input (its first line) instead of making one.",
    ),
]
Projects = Annotated[
    list[str] | None,
    typer.Option("--project", help="A project the operator sees (repeat for several). Admins see all."),
]


def _stdin_password(wanted: bool) -> str | None:
    return sys.stdin.readline().rstrip("\r\n") if wanted else None


async def _operator_json(hub: Hub, operator: Operator) -> dict[str, Any]:
    names = {project.id: project.name for project in await hub.projects.all()}
    return {
        "username": operator.username,
        "admin": operator.is_admin,
        "projects": "all"
        if operator.is_admin
        else sorted(names[i] for i in operator.project_ids if i in names),
        "created_at": operator.created_us // MICROS,
    }


@user_app.command("create")
def user_create(
    username: Username,
    admin: Annotated[bool, typer.Option("--admin", help="Sees and manages every project.")] = False,
    project: Projects = None,
    password_stdin: PasswordStdin = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Create an operator. The password is printed once (unless read from standard input)."""
    given = _stdin_password(password_stdin)

    async def create(hub: Hub) -> dict[str, Any]:
        operator, secret = await hub.operators.create(
            username, admin=admin, secret=given, projects=tuple(project or ())
        )
        return await _operator_json(hub, operator) | ({} if given else {"password": secret})

    out = run(settings_for(data_dir), create)
    if as_json:
        print(json.dumps(out))
        return
    console.print(f"Operator {username} created; projects: {_projects_text(out['projects'])}.")
    if "password" in out:
        console.print(f"Password (shown once): [bold]{out['password']}[/bold]")


@user_app.command("list")
def user_list(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """List the operators and the projects each sees."""

    async def listed(hub: Hub) -> list[dict[str, Any]]:
        return [await _operator_json(hub, operator) for operator in await hub.operators.all()]

    found = run(settings_for(data_dir), listed)
    if as_json:
        print(json.dumps(found))
        return
    table = Table("username", "admin", "projects", "created")
    for row in found:
        table.add_row(
            row["username"],
            "yes" if row["admin"] else "",
            _projects_text(row["projects"]),
            minute_text(row["created_at"]),
        )
    console.print(table)


@user_app.command("remove")
def user_remove(username: Username, data_dir: DataDir = None) -> None:
    """Remove an operator; its sessions end at once."""
    run(settings_for(data_dir), lambda hub: hub.operators.remove(username))
    console.print(f"Operator {username} removed.")


@user_app.command("passwd")
def user_passwd(username: Username, password_stdin: PasswordStdin = False, data_dir: DataDir = None) -> None:
    """Give an operator a new password (printed once, unless read from standard input); its sessions end."""
    given = _stdin_password(password_stdin)
    secret = run(settings_for(data_dir), lambda hub: hub.operators.set_password(username, given))
    console.print(f"Password of {username} changed; its sessions are signed out.")
    if given is None:
        console.print(f"New password (shown once): [bold]{secret}[/bold]")


@user_app.command("grant")
def user_grant(
    username: Username,
    project: Annotated[list[str], typer.Option("--project", help="A project to add (repeat for several).")],
    data_dir: DataDir = None,
) -> None:
    """Let an operator see more projects."""
    operator = run(settings_for(data_dir), lambda hub: hub.operators.grant(username, tuple(project)))
    console.print(f"Operator {username} now sees {len(operator.project_ids)} project(s).")


@user_app.command("revoke")
def user_revoke(
    username: Username,
    project: Annotated[list[str], typer.Option("--project", help="A project to take away (repeat).")],
    data_dir: DataDir = None,
) -> None:
    """Stop an operator seeing projects."""
    operator = run(settings_for(data_dir), lambda hub: hub.operators.revoke(username, tuple(project)))
    console.print(f"Operator {username} now sees {len(operator.project_ids)} project(s).")


def _projects_text(projects: str | list[str]) -> str:
    if isinstance(projects, str):
        return projects
    return ", ".join(projects) or "none yet (`fieldstation user grant`)"
