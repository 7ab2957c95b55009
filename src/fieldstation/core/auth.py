"""Who is calling: API keys looked up by digest, passwords checked with argon2."""

from __future__ import annotations

import asyncio

from fieldstation.core.errors import Unauthorized
from fieldstation.core.hashing import key_digest, verify_password
from fieldstation.core.models import Credential, CredentialKind
from fieldstation.core.ports import StorePort


async def credential_for_key(store: StorePort, kind: CredentialKind, api_key: str | None) -> Credential:
    if not api_key:
        raise Unauthorized("no API key")
    credential = await store.credential_by_digest(key_digest(api_key))
    if credential is None or credential.kind is not kind or not credential.active:
        raise Unauthorized("unknown or revoked API key")
    return credential


async def check_password(credential: Credential, username: str, secret: str) -> None:
    """Argon2 costs tens of milliseconds and 64 MiB by design: it runs in a worker thread, not the loop."""
    if credential.password_hash is None or credential.username != username:
        raise Unauthorized("wrong username or password")
    if not await asyncio.to_thread(verify_password, credential.password_hash, secret):
        raise Unauthorized("wrong username or password")
