"""Projects (the tenants) and their credentials. A secret exists in clear only in what these return."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fieldstation.core.clock import Clock
from fieldstation.core.errors import InvalidInput, NotFound
from fieldstation.core.hashing import hash_password, key_digest
from fieldstation.core.ids import api_secret, password, short_id
from fieldstation.core.models import CredentialKind, IssuedCredential, Project
from fieldstation.core.ports import StorePort

PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class CreatedProject:
    project: Project
    credentials: dict[CredentialKind, IssuedCredential] = field(default_factory=dict)


class Projects:
    def __init__(self, store: StorePort, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def create(
        self, name: str, *, auto_register: bool = False, is_demo: bool = False
    ) -> CreatedProject:
        if not PROJECT_NAME.match(name):
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
        awt = await self.issue_credential(project, CredentialKind.AWT)
        return CreatedProject(project, {CredentialKind.AWT: awt})

    async def get(self, name: str) -> Project:
        project = await self._store.project_by_name(name)
        if project is None:
            raise NotFound(f"no project named {name!r}; `fieldstation project list` shows the projects")
        return project

    async def issue_credential(self, project: Project, kind: CredentialKind) -> IssuedCredential:
        api_key = api_secret()
        secret = password() if kind is CredentialKind.AWT else None
        credential = await self._store.add_credential(
            project_id=project.id,
            kind=kind,
            key_digest=key_digest(api_key),
            username=project.name if secret is not None else None,
            password_hash=hash_password(secret) if secret is not None else None,
            created_us=self._clock.now_us(),
        )
        return IssuedCredential(credential, api_key, secret)
