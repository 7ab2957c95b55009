"""Bearer tokens: HS256 JWTs bound to the credential that asked for them. Expiry is checked against the
hub's clock, not the wall clock, so that tests can move time."""

from __future__ import annotations

import jwt

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.errors import Unauthorized
from fieldstation.core.ids import guid
from fieldstation.core.models import Credential, CredentialKind

ALGORITHM = "HS256"
VERIFIED_MAX = 10_000
"""Signatures remembered as good. A client sends the same token with every call for its hour; checking its
signature (and decoding it) each time cost more than the rest of authenticating the call."""


class TokenIssuer:
    def __init__(self, secret: str, clock: Clock) -> None:
        self._secret = secret
        self._clock = clock
        self._verified: dict[str, dict[str, object]] = {}
        """Token -> its claims, once its signature was checked; expiry is still checked at every use."""

    def issue(self, credential: Credential, lifetime_s: int) -> str:
        now_s = self._clock.now_us() // MICROS
        claims = {
            "sub": str(credential.id),
            "prj": credential.project_id,
            "knd": credential.kind.value,
            "iat": now_s,
            "exp": now_s + lifetime_s,
            "jti": guid(),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def subject(self, token: str, kind: CredentialKind) -> int:
        """The credential id a valid, unexpired token of `kind` was issued for; Unauthorized otherwise."""
        claims = self._claims(token)
        if claims.get("knd") != kind.value or not str(claims.get("sub", "")).isdigit():
            raise Unauthorized("token was issued for another API")
        return int(str(claims["sub"]))

    def _claims(self, token: str) -> dict[str, object]:
        claims = self._verified.get(token)
        if claims is None:
            try:
                claims = jwt.decode(
                    token,
                    self._secret,
                    algorithms=[ALGORITHM],
                    options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp"]},
                )
            except jwt.PyJWTError as exc:
                raise Unauthorized(f"token rejected: {exc}") from exc
            if len(self._verified) >= VERIFIED_MAX:
                self._verified.clear()
            self._verified[token] = claims
        expires = claims["exp"]
        if not isinstance(expires, int) or expires <= self._clock.now_us() // MICROS:
            self._verified.pop(token, None)
            raise Unauthorized("token expired")
        return claims

    def verify(self, token: str, credential: Credential) -> None:
        """Raise Unauthorized unless `token` is ours, unexpired and was issued for `credential`."""
        claims = self._claims(token)
        if claims.get("sub") != str(credential.id) or claims.get("knd") != credential.kind.value:
            raise Unauthorized("token was issued for another key")
