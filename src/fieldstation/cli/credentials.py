"""`fieldstation credential`: create, list and revoke API credentials."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from fieldstation.cli.common import AsJson, DataDir, console, errors, minute_text, run, settings_for
from fieldstation.core.clock import MICROS
from fieldstation.core.hub import Hub
from fieldstation.core.models import Credential, CredentialKind, IssuedCredential, Project
from fieldstation.core.projects import credential_secrets

credential_app = typer.Typer(help="Create, list and revoke API credentials.", no_args_is_help=True)


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

    owner, issued = run(settings_for(data_dir), issue)
    out = _credential_json(issued.credential) | credential_secrets(issued, owner)
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

    found = run(settings_for(data_dir), listed)
    if as_json:
        print(json.dumps([_credential_json(c) for c in found]))
        return
    table = Table("id", "kind", "username", "created", "revoked")
    for c in found:
        row = _credential_json(c)
        created, revoked = minute_text(row["created_at"]), minute_text(row["revoked_at"])
        table.add_row(str(c.id), c.kind.value, c.username or "", created, revoked)
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

    if not run(settings_for(data_dir), revoke):
        errors.print(f"[red]error:[/red] no active credential with id {credential_id}; see `credential list`")
        raise typer.Exit(2)
    console.print(f"Credential {credential_id} revoked.")
