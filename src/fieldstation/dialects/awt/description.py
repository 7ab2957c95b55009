"""What AWT's `openapi.json` says of authentication and errors (http/openapi.py): the API key on every call,
Basic for the token and the network servers' webhooks, a bearer token for the rest; `{"error": ...}`."""

from __future__ import annotations

from fieldstation.dialects.awt import errors
from fieldstation.http.openapi import ApiDescription, Requirement

WITH_PASSWORD = {"/token", "/lora", "/ttn-webhook", "/chirpstack", "/actility"}
SEED_READINGS = [
    {
        "recordId": "123456abc", "tagId": 1337, "softwareVersion": 70, "reportingInterval": "1_hour",
        "voltage": 3.67, "batteryPercentage": 66.78, "timestamp": 1583020800, "latitude": -25.730598,
        "longitude": 28.219429, "accelerometer": {"x": 9997, "y": 364, "z": -14998}, "hdop": "10m",
        "hdopRaw": 1, "movement": True, "alarm": False, "coverage": True, "retries": 0, "speed": 10,
        "temperature": 24, "altitude": 1000, "lux": 2000,
    }
]  # fmt: skip
"""The seed's own response examples, verbatim (tests/http/test_openapi_descriptions.py compares them)."""
EXAMPLES = {
    "/token": {
        "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...", "expires_in": "1h", "token_type": "Bearer"
    },
    "/devices": [
        {"tag_id": "1337", "imei": "A0C9B00000794AB5", "device_type": "LoRA", "asset": "Savannah Elephant",
         "software_version": 70, "created_at": 1577836800}
    ],
    **dict.fromkeys(
        ["/data", "/data/{tag_id}", "/data/latest", "/data/archive", "/data/archive/{tag_id}"], SEED_READINGS
    ),
}  # fmt: skip


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
    examples=EXAMPLES,
    error_schema={
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What is wrong."}},
    },
    bad_request={"error": errors.MALFORMED},
    not_found={"error": "Tag ID not found or you do not have permission to access this resource."},
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
