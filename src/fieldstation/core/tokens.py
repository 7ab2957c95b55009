"""Bearer tokens: HS256 JWTs bound to the credential that asked for them. Expiry is checked against the
hub's clock, not the wall clock, so that tests can move time."""

from __future__ import annotations

import jwt

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.errors import Unauthorized
from fieldstation.core.ids import guid
from fieldstation.core.models import Credential

ALGORITHM = "HS256"


class TokenIssuer:
    def __init__(self, secret: str, clock: Clock) -> None:
        self._secret = secret
        self._clock = clock

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

    def verify(self, token: str, credential: Credential) -> None:
        """Raise Unauthorized unless `token` is ours, unexpired and was issued for `credential`."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"token rejected: {exc}") from exc
        if claims.get("sub") != str(credential.id) or claims.get("knd") != credential.kind.value:
            raise Unauthorized("token was issued for another key")
        if not isinstance(claims["exp"], int) or claims["exp"] <= self._clock.now_us() // MICROS:
            raise Unauthorized("token expired")
