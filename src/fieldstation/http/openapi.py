"""What each dialect's `openapi.json` says beyond its routes: how a caller authenticates (security schemes,
per operation) and the errors it answers, in the dialect's own error shape. FastAPI alone described no
security at all and a 422 with its own validation body that no dialect ever sends (each answers bad input
with 400 in its vendor's shape); client generators and fuzzers read this document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

Requirement = list[dict[str, list[str]]]
"""An operation's `security`: any one of the listed combinations of schemes (`[]`: public)."""


@dataclass(frozen=True, slots=True)
class ApiDescription:
    schemes: dict[str, dict[str, Any]]
    """`components.securitySchemes`."""
    security: Callable[[str, str], Requirement]
    """(path, method) -> the operation's security requirement."""
    error_schema: dict[str, Any]
    """The JSON schema of the dialect's error body."""
    bad_request: dict[str, Any]
    """An example of its answer to bad input (always 400)."""
    unauthorized: dict[str, Any]
    """An example of its answer to missing or wrong credentials (401)."""
    not_found: dict[str, Any] = field(default_factory=dict)
    """An example of its answer for a resource the request names that does not exist (404), given to every
    operation with parameters."""
    credentials_in_body: frozenset[str] = frozenset()
    """Public paths that check credentials sent in their body (a token request): they answer 401 too."""
    refusals: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """Other answers any authenticated operation may give: status -> (description, example)."""
    examples: dict[str, Any] = field(default_factory=dict)
    """The vendor's own examples of successful answers, by path (every method of the path), or by
    "METHOD /path" where a path's methods answer differently."""


ERROR = "#/components/schemas/Error"


def _error(description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": ERROR}, "example": example}},
    }


def describe(app: FastAPI, description: ApiDescription) -> None:
    """Make `app.openapi()` (and so `/openapi.json`) carry the description."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = document.setdefault("components", {})
        components["securitySchemes"] = description.schemes
        schemas = components.setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Error"] = description.error_schema
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                responses = operation.setdefault("responses", {})
                # Bodies some routes read themselves (webhooks, commands, the token request) are input too.
                takes_input = (
                    "422" in responses
                    or "requestBody" in operation
                    or "parameters" in operation
                    or method in ("post", "put", "patch")
                )
                responses.pop("422", None)
                if takes_input:
                    responses["400"] = _error(
                        "The request is malformed or a value is out of range", description.bad_request
                    )
                example = description.examples.get(f"{method.upper()} {path}", description.examples.get(path))
                if example is not None:
                    success = next(status for status in responses if status.startswith("2"))
                    content = responses[success].setdefault("content", {}).setdefault("application/json", {})
                    content["example"] = example
                # A path parameter or a filter (`deviceGuid=`) can name what does not exist.
                if description.not_found and ("{" in path or "parameters" in operation):
                    responses["404"] = _error("No such resource (or not the caller's)", description.not_found)
                requirement = description.security(path, method)
                operation["security"] = requirement
                if requirement or path in description.credentials_in_body:
                    responses["401"] = _error("Missing or wrong credentials", description.unauthorized)
                    for status, (text, example) in description.refusals.items():
                        responses[str(status)] = _error(text, example)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
