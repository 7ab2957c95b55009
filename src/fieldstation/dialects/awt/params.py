"""Query and path parameters, parsed by hand so that every failure is a 400 in AWT's words, naming the
parameter."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from fieldstation.dialects.awt.errors import malformed

MAX_EPOCH_S = 2**41
"""Far beyond any real date, small enough that microseconds stay within 64 bits."""


def integer(value: str, name: str, *, minimum: int = 0, maximum: int = MAX_EPOCH_S) -> int:
    text = value.strip()
    if not text.lstrip("-").isdigit() or len(text) > 19:
        raise malformed(f"{name} must be an integer, got {value!r}.")
    number = int(text)
    if not minimum <= number <= maximum:
        raise malformed(f"{name} must be between {minimum} and {maximum}, got {number}.")
    return number


def optional_integer(query: QueryParams, name: str, *, maximum: int = MAX_EPOCH_S) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    return integer(value, name, maximum=maximum)


def tag_id(value: str) -> int:
    return integer(value, "tagId", maximum=2**63 - 1)
