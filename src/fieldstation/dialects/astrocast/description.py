"""What Astrocast's `openapi.json` says of authentication and errors (http/openapi.py): the API key in
`x-api-key`, push callbacks signed by a project's callback secret; `{"message": ...}`."""

from __future__ import annotations

from fieldstation.dialects.astrocast.errors import RETRY_AFTER_S
from fieldstation.http.openapi import ApiDescription, Requirement
from fieldstation.intake.astrocast import DEFAULT_HEADER


def _security(path: str, _method: str) -> Requirement:
    if path.startswith("/callbacks/"):
        return [{"CallbackSecret": []}]
    return [{"ApiKey": []}]


DESCRIPTION = ApiDescription(
    schemes={
        "ApiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "The project's Astrocast API key.",
        },
        "CallbackSecret": {
            "type": "apiKey",
            "in": "header",
            "name": DEFAULT_HEADER,
            "description": "The project's callback secret "
            "(`fieldstation project configure --astrocast-callback-secret`).",
        },
    },
    security=_security,
    error_schema={
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"type": "string", "description": "What is wrong."},
            "retryAfter": {"type": "integer", "description": "Seconds to wait (with 503)."},
        },
    },
    bad_request={"message": "Bad request: Input should be a valid integer"},
    not_found={"message": "No such resource in the Astrocast API."},
    unauthorized={"message": "The API key is missing, unknown or revoked (header x-api-key)."},
    refusals={
        503: (
            "Too many requests, or the data store cannot be reached: try again after retryAfter seconds",
            {"message": "Too many requests. Please retry later.", "retryAfter": RETRY_AFTER_S},
        ),
    },
)
