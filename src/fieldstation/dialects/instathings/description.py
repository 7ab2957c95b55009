"""What Instathings' `openapi.json` says of authentication and errors (http/openapi.py): OAuth 2 client
credentials for a bearer token on every call but the token's own; `{"message": ...}`."""

from __future__ import annotations

from fieldstation.dialects.instathings.examples import SEED_EXAMPLES
from fieldstation.http.openapi import ApiDescription, Requirement

TOKEN_PATH = "/authentication/v1/oauth/token"


def _security(path: str, _method: str) -> Requirement:
    return [] if path == TOKEN_PATH else [{"OAuth2": []}]


DESCRIPTION = ApiDescription(
    schemes={
        "OAuth2": {
            "type": "oauth2",
            "description": "Client credentials (Settings, API): POST the client id and secret for an "
            "access token, then send it as `Authorization: Bearer`.",
            "flows": {"clientCredentials": {"tokenUrl": TOKEN_PATH.lstrip("/"), "scopes": {}}},
        },
    },
    security=_security,
    credentials_in_body=frozenset({TOKEN_PATH}),
    examples=SEED_EXAMPLES,
    error_schema={
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string", "description": "What is wrong."}},
    },
    bad_request={"message": "Your request is invalid: Input should be a valid integer"},
    not_found={"message": "The specified resource could not be found."},
    unauthorized={"message": "Your JWT token is missing: send Authorization: Bearer <access_token>."},
    refusals={
        429: (
            "Too many requests: try again after Retry-After seconds",
            {"message": "Too many requests! Slow down."},
        ),
        503: (
            "The data store cannot be reached",
            {"message": "Service is down: the data store cannot be reached."},
        ),
    },
)
