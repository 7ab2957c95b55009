"""Who is calling: API keys looked up by digest, passwords checked with argon2.

Both answers are remembered briefly in the process, because webhooks authenticate every call with Basic
credentials and argon2 costs tens of milliseconds and 64 MiB by design: a verified (key, username,
password) is trusted again for `VERIFIED_TTL_S` after its last use, a key's credential for `BACKSTOP_TTL_S`.

Password guessing is throttled before argon2 runs: per credential and client address (`GUESS_PER_CLIENT`),
and per credential for clients that have not yet proved the password (`GUESS_PER_CREDENTIAL`); at most
`CONCURRENT_VERIFICATIONS` argon2 checks run at once in the process, so guesses cannot grow its memory. A
client that proved the password is trusted for `TRUSTED_CLIENT_S` and is not held back by others'
guesses: a key holder who lacks the password cannot lock its owner out."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TypeVar

from fieldstation.core.cache import BACKSTOP_TTL_S, TtlCache
from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.errors import Unauthorized
from fieldstation.core.freshness import CREDENTIALS, Freshness
from fieldstation.core.hashing import key_digest, verify_password
from fieldstation.core.models import Credential, CredentialKind
from fieldstation.core.ports import CredentialStore
from fieldstation.core.ratelimit import Limit, RateLimiter

VERIFIED_TTL_S = 60
TRUSTED_CLIENT_S = 86_400
MAX_REMEMBERED = 10_000
CONCURRENT_VERIFICATIONS = 2
GUESS_PER_CLIENT = "auth.password.client"
GUESS_PER_CREDENTIAL = "auth.password.credential"
AUTH_POLICY: dict[str, Limit] = {GUESS_PER_CLIENT: (6.0, 10), GUESS_PER_CREDENTIAL: (1.0, 30)}
"""Password checks that argon2 must do (not those answered from memory): 10 at once, then one every 6 s,
per credential and client address; 30 at once, then one a second, per credential, for untrusted clients."""
V = TypeVar("V")


class Authenticator:
    def __init__(
        self, store: CredentialStore, clock: Clock, limiter: RateLimiter, freshness: Freshness
    ) -> None:
        self._store = store
        self._clock = clock
        self._limiter = limiter
        self._argon2 = asyncio.Semaphore(CONCURRENT_VERIFICATIONS)
        self._trusted: dict[str, int] = {}
        self._keys: TtlCache[str, Credential] = TtlCache(
            clock, BACKSTOP_TTL_S, freshness=(freshness, CREDENTIALS)
        )
        self._by_id: TtlCache[int, Credential] = TtlCache(
            clock, BACKSTOP_TTL_S, freshness=(freshness, CREDENTIALS)
        )
        # Proofs are not forgotten on changes: a revoked credential is refused by `key` and `by_id` first,
        # and forgetting them would make every busy network server pay argon2 again after any change.
        self._verified: dict[str, int] = {}
        self._verifying: dict[str, asyncio.Future[bool]] = {}

    async def key(self, kind: CredentialKind, api_key: str | None) -> Credential:
        if not api_key:
            raise Unauthorized("no API key")
        credential = self._keys.peek(api_key) or await self._keys.get(
            api_key, lambda: self._store.credential_by_digest(key_digest(api_key))
        )
        if credential is None or credential.kind is not kind or not credential.active:
            raise Unauthorized("unknown or revoked API key")
        return credential

    async def by_id(self, credential_id: int, kind: CredentialKind) -> Credential:
        """An active credential of `kind` by id (bearer tokens name their credential by id)."""
        credential = self._by_id.peek(credential_id) or await self._by_id.get(
            credential_id, lambda: self._store.credential_by_id(credential_id)
        )
        if credential is None or credential.kind is not kind or not credential.active:
            raise Unauthorized("the token's credential is unknown or revoked")
        return credential

    async def password(
        self, credential: Credential, username: str, secret: str, client: str | None = None
    ) -> None:
        """Raise Unauthorized unless username and password are the credential's, RateLimited when `client`
        (its address) or the credential has guessed too often. Argon2 runs in a worker thread, not on the
        event loop."""
        proof = hashlib.sha256(
            f"{credential.id}\0{credential.password_hash}\0{username}\0{secret}".encode()
        ).hexdigest()
        now = self._clock.now_us()
        if self._verified.get(proof, 0) > now:
            _remember(self._verified, proof, now + VERIFIED_TTL_S * MICROS)
            return
        if credential.password_hash is None or credential.username != username:
            # Counted as a guess too: otherwise a 429 would tell a right username from a wrong one.
            await self._may_guess(credential, client, now)
            raise Unauthorized("wrong username or password")
        # Concurrent calls with the same credentials (a webhook's first burst) wait for one verification,
        # which counts as one guess. It is registered before any wait: a limiter that waits (Redis, shared
        # by several workers) must not let the burst count as a burst of guesses.
        pending = self._verifying.get(proof)
        if pending is None:
            pending = asyncio.ensure_future(
                self._guess(credential, client, now, credential.password_hash, secret)
            )
            self._verifying[proof] = pending
            pending.add_done_callback(lambda _: self._verifying.pop(proof, None))
        if not await asyncio.shield(pending):
            raise Unauthorized("wrong username or password")
        _remember(self._verified, proof, now + VERIFIED_TTL_S * MICROS)
        if client is not None:
            _remember(self._trusted, f"{credential.id}|{client}", now + TRUSTED_CLIENT_S * MICROS)

    async def _may_guess(self, credential: Credential, client: str | None, now: int) -> None:
        who = f"{credential.id}|{client or '-'}"
        await self._limiter.hit(who, GUESS_PER_CLIENT)
        if self._trusted.get(who, 0) <= now:
            await self._limiter.hit(str(credential.id), GUESS_PER_CREDENTIAL)

    async def _guess(
        self, credential: Credential, client: str | None, now: int, password_hash: str, secret: str
    ) -> bool:
        await self._may_guess(credential, client, now)
        return await self._verify(password_hash, secret)

    async def _verify(self, password_hash: str, secret: str) -> bool:
        async with self._argon2:
            return await asyncio.to_thread(verify_password, password_hash, secret)


def _remember(cache: dict[str, V], key: str, value: V) -> None:
    if len(cache) >= MAX_REMEMBERED:
        cache.clear()
    cache[key] = value
