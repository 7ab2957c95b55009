"""What AWT's `openapi.json` says of authentication and errors (http/openapi.py): the API key on every call,
Basic for the token and the network servers' webhooks, a bearer token for the rest; `{"error": ...}`."""

from __future__ import annotations

from fieldstation.dialects.awt import errors
from fieldstation.http.openapi import ApiDescription, Requirement

WITH_PASSWORD = {"/token", "/lora", "/ttn-webhook", "/chirpstack", "/actility"}


def _security(path: str, _method: str) -> Requirement:
    if path in WITH_PASSWORD:
        return [{"ApiKey": [], "Basic": []}]
    return [{"ApiKey": [], "Bearer": []}]


DESCRIPTION = ApiDescription(
    schemes={
        "ApiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-KEY",
            "description": "The project's AWT API key.",
        },
        "Basic": {
            "type": "http",
            "scheme": "basic",
            "description": "The AWT credential's username and password: for POST /token and the webhooks.",
        },
        "Bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A token from POST /token, valid for an hour.",
        },
    },
    security=_security,
    error_schema={
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What is wrong."}},
    },
    bad_request={"error": errors.MALFORMED},
    unauthorized={"error": errors.BAD_KEY},
    refusals={
        429: (
            "A rate limit was reached: try again after Retry-After seconds",
            {"error": errors.RATE_LIMITED},
        ),
        503: (
            "The data store cannot be reached: try again after Retry-After seconds",
            {"error": errors.STORE_DOWN},
        ),
    },
)
