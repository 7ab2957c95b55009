"""Query parameters declared to the framework, so that each API's OpenAPI document lists them, and read as
text, so that each API parses (and refuses) them in its own words (`core.values`)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Query


def query_parameters(**described: str) -> Callable[..., Awaitable[dict[str, str]]]:
    """A dependency that declares the named query parameters (name=description) and returns those given.
    A coroutine, as every dependency here: the framework runs a plain function in a worker thread, a hop
    there and back per request for a dict comprehension."""

    async def given(**values: str | None) -> dict[str, str]:
        return {name: value for name, value in values.items() if value is not None}

    given.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[str | None, Query(description=description)],
            )
            for name, description in described.items()
        ],
        return_annotation=dict[str, str],
    )
    return given
