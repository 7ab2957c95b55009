"""Projects (the tenants) and their credentials. A secret exists in clear only in what these return."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from fieldstation.core.cache import BACKSTOP_TTL_S, TtlCache
from fieldstation.core.clock import Clock
from fieldstation.core.errors import InvalidInput, NotFound
from fieldstation.core.freshness import CREDENTIALS, PROJECTS, Freshness
from fieldstation.core.hashing import hash_password, key_digest
from fieldstation.core.ids import api_secret, password, short_id
from fieldstation.core.models import Credential, CredentialKind, IssuedCredential, Project
from fieldstation.core.ports import CredentialStore, ProjectStore

PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ProjectsStore(ProjectStore, CredentialStore, Protocol):
    """The parts of the store this service uses."""


@dataclass(frozen=True, slots=True)
class CreatedProject:
    project: Project
    credentials: dict[CredentialKind, IssuedCredential] = field(default_factory=dict)


PROJECT_CREDENTIALS = (CredentialKind.AWT, CredentialKind.ASTROCAST, CredentialKind.INSTATHINGS)
"""What a new project gets: one credential of each API that has landed."""


class Projects:
    def __init__(self, store: ProjectsStore, clock: Clock, freshness: Freshness) -> None:
        self._store = store
        self._clock = clock
        self._freshness = freshness
        self._by_id: TtlCache[int, Project] = TtlCache(clock, BACKSTOP_TTL_S, freshness=(freshness, PROJECTS))
        self._by_short_id: TtlCache[str, Project] = TtlCache(
            clock, BACKSTOP_TTL_S, freshness=(freshness, PROJECTS)
        )

    async def create(
        self, name: str, *, auto_register: bool = False, is_demo: bool = False
    ) -> CreatedProject:
        if not PROJECT_NAME.fullmatch(name):
            raise InvalidInput(
                f"project name {name!r} is not valid: use 1 to 64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        project = await self._store.create_project(
            name=name,
            short_id=short_id(),
            created_us=self._clock.now_us(),
            auto_register=auto_register,
            is_demo=is_demo,
        )
        credentials = {kind: await self.issue_credential(project, kind) for kind in PROJECT_CREDENTIALS}
        return CreatedProject(project, credentials)

    async def get(self, name: str) -> Project:
        project = await self._store.project_by_name(name)
        if project is None:
            raise NotFound(f"no project named {name!r}; `fieldstation project list` shows the projects")
        return project

    async def all(self) -> list[Project]:
        return await self._store.projects()

    async def by_id(self, project_id: int) -> Project:
        """The project, remembered for a few seconds: every authenticated call needs its settings."""
        project = self._by_id.peek(project_id) or await self._by_id.get(
            project_id, lambda: self._store.project_by_id(project_id)
        )
        if project is None:
            raise NotFound(f"project {project_id} does not exist")
        return project

    async def by_short_id(self, short_id: str) -> Project | None:
        """Remembered like `by_id`: every message of a gateway's link names its project so."""
        return self._by_short_id.peek(short_id) or await self._by_short_id.get(
            short_id, lambda: self._store.project_by_short_id(short_id)
        )

    async def configure(
        self, project: Project, *, auto_register: bool | None = None, **changes: Any
    ) -> Project:
        """Change operator settings (a setting given as None is removed); returns the project as it is now.
        The settings are read afresh, so that a caller holding an older copy of the project loses nothing."""
        project = await self._store.project_by_id(project.id) or project
        settings = {key: value for key, value in {**project.settings, **changes}.items() if value is not None}
        register = project.auto_register if auto_register is None else auto_register
        await self._store.update_project(project.id, auto_register=register, settings=settings)
        self._freshness.announce(PROJECTS)
        return dataclasses.replace(project, settings=settings, auto_register=register)

    async def issue_credential(self, project: Project, kind: CredentialKind) -> IssuedCredential:
        api_key = api_secret()
        secret = password() if kind is CredentialKind.AWT else None
        # AWT: a key plus a username and password. Instathings: a client id (kept as the username) and a
        # client secret (the key). Astrocast: a key alone.
        username = {
            CredentialKind.AWT: project.name,
            CredentialKind.INSTATHINGS: f"{project.short_id}-{short_id(12)}",
        }
        credential = await self._store.add_credential(
            project_id=project.id,
            kind=kind,
            key_digest=key_digest(api_key),
            username=username.get(kind),
            password_hash=hash_password(secret) if secret is not None else None,
            created_us=self._clock.now_us(),
        )
        self._freshness.announce(CREDENTIALS)
        return IssuedCredential(credential, api_key, secret)

    async def credentials(self, project: Project) -> list[Credential]:
        return await self._store.credentials(project.id)

    async def revoke_credential(self, credential_id: int) -> bool:
        """Revoke at once: every worker refuses the credential from its next request on, and the live
        sessions it opened are closed. False when there was no active credential of that id."""
        revoked = await self._store.revoke_credential(credential_id, self._clock.now_us())
        if revoked:
            self._freshness.announce(CREDENTIALS)
        return revoked


def credential_secrets(issued: IssuedCredential, project: Project) -> dict[str, Any]:
    """What the holder of a new credential must be shown (once): the names its API calls them by."""
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
