"""Who is calling: API keys looked up by digest, passwords checked with argon2.

Both answers are remembered briefly in the process, because webhooks authenticate every call with Basic
credentials and argon2 costs tens of milliseconds by design: a verified (key, username, password) is
trusted again for `VERIFIED_TTL_S`, a key's credential for `KEY_TTL_S`. A revocation therefore takes
effect within `KEY_TTL_S` in every worker."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TypeVar

from fieldstation.core.cache import TtlCache
from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.errors import Unauthorized
from fieldstation.core.hashing import key_digest, verify_password
from fieldstation.core.models import Credential, CredentialKind
from fieldstation.core.ports import StorePort

KEY_TTL_S = 5
VERIFIED_TTL_S = 60
MAX_REMEMBERED = 10_000
V = TypeVar("V")


class Authenticator:
    def __init__(self, store: StorePort, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._keys: TtlCache[str, Credential] = TtlCache(clock, KEY_TTL_S)
        self._by_id: TtlCache[int, Credential] = TtlCache(clock, KEY_TTL_S)
        self._verified: dict[str, int] = {}
        self._verifying: dict[str, asyncio.Future[bool]] = {}

    async def key(self, kind: CredentialKind, api_key: str | None) -> Credential:
        if not api_key:
            raise Unauthorized("no API key")
        credential = await self._keys.get(
            api_key, lambda: self._store.credential_by_digest(key_digest(api_key))
        )
        if credential is None or credential.kind is not kind or not credential.active:
            raise Unauthorized("unknown or revoked API key")
        return credential

    async def by_id(self, credential_id: int, kind: CredentialKind) -> Credential:
        """An active credential of `kind` by id (bearer tokens name their credential by id)."""
        credential = await self._by_id.get(credential_id, lambda: self._store.credential_by_id(credential_id))
        if credential is None or credential.kind is not kind or not credential.active:
            raise Unauthorized("the token's credential is unknown or revoked")
        return credential

    async def password(self, credential: Credential, username: str, secret: str) -> None:
        """Raise Unauthorized unless username and password are the credential's. Argon2 runs in a worker
        thread, not on the event loop."""
        if credential.password_hash is None or credential.username != username:
            raise Unauthorized("wrong username or password")
        proof = hashlib.sha256(f"{credential.id}\0{credential.password_hash}\0{secret}".encode()).hexdigest()
        now = self._clock.now_us()
        if self._verified.get(proof, 0) > now:
            return
        # Concurrent calls with the same credentials (a webhook's first burst) wait for one verification.
        pending = self._verifying.get(proof)
        if pending is None:
            pending = asyncio.ensure_future(
                asyncio.to_thread(verify_password, credential.password_hash, secret)
            )
            self._verifying[proof] = pending
            pending.add_done_callback(lambda _: self._verifying.pop(proof, None))
        if not await asyncio.shield(pending):
            raise Unauthorized("wrong username or password")
        _remember(self._verified, proof, now + VERIFIED_TTL_S * MICROS)


def _remember(cache: dict[str, V], key: str, value: V) -> None:
    if len(cache) >= MAX_REMEMBERED:
        cache.clear()
    cache[key] = value
