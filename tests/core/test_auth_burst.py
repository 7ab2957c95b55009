"""A webhook's first burst (many concurrent calls with the right password) is one verification and one
guess, whatever the rate limiter: one that waits (Redis, shared by several workers) must not turn the burst
into a burst of guesses, refused with 429."""

from __future__ import annotations

import asyncio

from fieldstation.core.auth import GUESS_PER_CREDENTIAL, Authenticator
from fieldstation.core.clock import MICROS, FakeClock
from fieldstation.core.errors import RateLimited
from fieldstation.core.freshness import Freshness, in_process
from fieldstation.core.hashing import hash_password
from fieldstation.core.models import Credential, CredentialKind


class WaitingLimiter:
    """Allows `allowed` hits a group, then refuses; each decision takes a turn of the loop, as a network
    round trip does."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.hits: dict[str, int] = {}

    async def hit(self, key: str, group: str) -> None:
        await asyncio.sleep(0)
        self.hits[group] = self.hits.get(group, 0) + 1
        if self.hits[group] > self.allowed:
            raise RateLimited(1)


def test_a_burst_with_the_right_password_is_one_guess() -> None:
    credential = Credential(
        id=1,
        project_id=1,
        kind=CredentialKind.AWT,
        key_digest="k",
        username="demo",
        password_hash=hash_password("right"),
        created_us=0,
        revoked_us=None,
    )
    limiter = WaitingLimiter(allowed=3)
    auth = Authenticator(None, FakeClock(1_000 * MICROS), limiter, Freshness(in_process))  # type: ignore[arg-type]

    async def burst() -> list[BaseException | None]:
        return await asyncio.gather(
            *(auth.password(credential, "demo", "right", "10.0.0.1") for _ in range(100)),
            return_exceptions=True,
        )

    outcomes = asyncio.run(burst())
    assert outcomes == [None] * 100
    assert limiter.hits.get(GUESS_PER_CREDENTIAL, 0) <= 1
