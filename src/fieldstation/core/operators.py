"""Operators: the people who sign in to the portal. Each sees the projects granted to it; an admin sees
every project and is the only one who may change what others see (from the CLI).

Sign-in is throttled before argon2 runs, per client address (`SIGN_IN_PER_CLIENT`) and per account
(`SIGN_IN_PER_ACCOUNT`); a client that signed in to the account before is not held back by the second, so
that someone guessing cannot lock the operator out. Sessions live in the store, as the SHA-256 of their
token: every worker knows them, and a stolen database holds no usable cookie."""

from __future__ import annotations

import asyncio
import functools
import re

from fieldstation.core.auth import CONCURRENT_VERIFICATIONS
from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.errors import InvalidInput, NotFound, Unauthorized
from fieldstation.core.hashing import hash_password, key_digest, verify_password
from fieldstation.core.ids import api_secret, password
from fieldstation.core.models import Operator, OperatorSession, Project
from fieldstation.core.ports import OperatorStore, ProjectStore
from fieldstation.core.ratelimit import Limit, RateLimiter

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
"""Longer passwords are refused before argon2 is asked to hash them."""
SESSION_S = 12 * 3600
TRUSTED_S = 30 * 86_400
SIGN_IN_PER_CLIENT = "portal.sign-in.client"
SIGN_IN_PER_ACCOUNT = "portal.sign-in.account"
SIGN_IN_POLICY: dict[str, Limit] = {SIGN_IN_PER_CLIENT: (6.0, 10), SIGN_IN_PER_ACCOUNT: (3.0, 20)}
"""Ten attempts from one address at once, then one every 6 s; twenty at one account from addresses that
never signed in to it, then one every 3 s."""


@functools.cache
def _decoy_hash() -> str:
    """Checked against for unknown usernames, so that they take as long as wrong passwords."""
    return hash_password(api_secret())


class Operators:
    def __init__(
        self, store: OperatorStore, projects: ProjectStore, clock: Clock, limiter: RateLimiter
    ) -> None:
        self._store = store
        self._projects = projects
        self._clock = clock
        self._limiter = limiter
        self._trusted: dict[str, int] = {}
        self._argon2 = asyncio.Semaphore(CONCURRENT_VERIFICATIONS)

    async def create(
        self, username: str, *, admin: bool = False, secret: str | None = None, projects: tuple[str, ...] = ()
    ) -> tuple[Operator, str]:
        """The new operator and its password (`secret`, or one made here)."""
        if not USERNAME.fullmatch(username):
            raise InvalidInput(
                f"username {username!r} is not valid: use 1 to 64 letters, digits, '.', '_', '@' or '-', "
                "starting with a letter or digit"
            )
        secret = _checked(secret) if secret is not None else password()
        granted = [await self._project(name) for name in projects]
        operator = await self._store.add_operator(
            username=username,
            password_hash=hash_password(secret),
            is_admin=admin,
            created_us=self._clock.now_us(),
        )
        if granted:
            await self._store.grant_projects(operator.id, [project.id for project in granted])
        return await self.get(username), secret

    async def get(self, username: str) -> Operator:
        operator = await self._store.operator_by_username(username)
        if operator is None:
            raise NotFound(f"no operator named {username!r}; `fieldstation user list` shows them")
        return operator

    async def all(self) -> list[Operator]:
        return await self._store.operators()

    async def remove(self, username: str) -> None:
        await self._store.remove_operator((await self.get(username)).id)

    async def set_password(self, username: str, secret: str | None = None) -> str:
        """Set (or make) a new password; the operator's sessions end."""
        operator = await self.get(username)
        secret = _checked(secret) if secret is not None else password()
        await self._store.set_operator_password(operator.id, hash_password(secret))
        return secret

    async def grant(self, username: str, projects: tuple[str, ...]) -> Operator:
        operator = await self.get(username)
        await self._store.grant_projects(operator.id, [(await self._project(name)).id for name in projects])
        return await self.get(username)

    async def revoke(self, username: str, projects: tuple[str, ...]) -> Operator:
        operator = await self.get(username)
        await self._store.revoke_projects(operator.id, [(await self._project(name)).id for name in projects])
        return await self.get(username)

    async def visible_projects(self, operator: Operator) -> list[Project]:
        every = await self._projects.projects()
        return every if operator.is_admin else [p for p in every if p.id in operator.project_ids]

    async def sign_in(self, username: str, secret: str, client: str) -> tuple[str, OperatorSession]:
        """A new session's cookie token and the session; Unauthorized for a wrong username or password,
        RateLimited past the throttles (checked before argon2)."""
        account = username.lower()[:64]
        await self._limiter.hit(client, SIGN_IN_PER_CLIENT)
        now = self._clock.now_us()
        if self._trusted.get(f"{account}|{client}", 0) <= now:
            await self._limiter.hit(account, SIGN_IN_PER_ACCOUNT)
        operator = await self._store.operator_by_username(username) if USERNAME.fullmatch(username) else None
        password_hash = operator.password_hash if operator is not None else _decoy_hash()
        async with self._argon2:
            good = await asyncio.to_thread(verify_password, password_hash, secret[:MAX_PASSWORD])
        if operator is None or not good or len(secret) > MAX_PASSWORD:
            raise Unauthorized("wrong username or password")
        if len(self._trusted) > 10_000:
            self._trusted.clear()
        self._trusted[f"{account}|{client}"] = now + TRUSTED_S * MICROS
        token, csrf = api_secret(), api_secret()
        expires = now + SESSION_S * MICROS
        await self._store.add_operator_session(
            token_digest=key_digest(token),
            operator_id=operator.id,
            csrf_token=csrf,
            created_us=now,
            expires_us=expires,
        )
        return token, OperatorSession(operator, csrf, expires)

    async def session(self, token: str) -> OperatorSession | None:
        if not token or len(token) > 128:
            return None
        return await self._store.operator_session(key_digest(token), self._clock.now_us())

    async def sign_out(self, token: str) -> None:
        await self._store.end_operator_session(key_digest(token))

    async def _project(self, name: str) -> Project:
        project = await self._projects.project_by_name(name)
        if project is None:
            raise NotFound(f"no project named {name!r}; `fieldstation project list` shows the projects")
        return project


def _checked(secret: str) -> str:
    if not MIN_PASSWORD <= len(secret) <= MAX_PASSWORD:
        raise InvalidInput(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return secret
