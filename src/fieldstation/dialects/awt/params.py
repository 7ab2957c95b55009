"""Query and path parameters, parsed by `core.values` so that every failure is a 400 in AWT's words, naming
the parameter."""

from __future__ import annotations

from fieldstation.core import values
from fieldstation.core.values import MAX_TIME_S, BadValue
from fieldstation.dialects.awt.errors import malformed

MAX_OFFSET = 2**40


def integer(value: str, name: str, *, minimum: int = 0, maximum: int = MAX_TIME_S) -> int:
    try:
        return values.integer(value, name, minimum=minimum, maximum=maximum)
    except BadValue as exc:
        raise malformed(f"{exc}.") from None


def tag_id(value: str) -> int:
    return integer(value, "tagId", maximum=values.INT64_MAX)
