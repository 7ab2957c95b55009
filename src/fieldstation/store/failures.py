"""Driver failures become core errors at the store's edge: a dialect sees `StoreUnavailable`, never an
SQLAlchemy or driver exception."""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

from fieldstation.core.errors import StoreUnavailable

UNREACHABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    sqlite3.OperationalError,
    ConnectionError,
    TimeoutError,
)
"""What the drivers raise when the database cannot be reached (down, locked past the timeout, disk gone)."""

C = TypeVar("C", bound=type)


def translated(cls: C) -> C:
    """Wrap every public coroutine and async generator method of `cls` (and of its bases) so that an
    unreachable database raises `StoreUnavailable`."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        method = getattr(cls, name)
        if inspect.isasyncgenfunction(method):
            setattr(cls, name, _generator(method))
        elif inspect.iscoroutinefunction(method):
            setattr(cls, name, _coroutine(method))
    return cls


def unreachable(exc: BaseException) -> bool:
    """Whether a driver error says the database cannot be reached. asyncpg reports a value it cannot send
    (an integer out of range, a wrong type) as an InterfaceError too: that is a bad value, not a database
    that is down, and must fail alone rather than as a whole batch."""
    if not isinstance(exc, UNREACHABLE):
        return False
    original = getattr(exc, "orig", None)
    return not isinstance(original, ValueError) and "DataError" not in type(original).__name__


def _coroutine(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except UNREACHABLE as exc:
            if not unreachable(exc):
                raise
            raise StoreUnavailable(f"the database cannot be reached: {exc}") from exc

    return wrapper


def _generator(method: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        try:
            async for item in method(*args, **kwargs):
                yield item
        except UNREACHABLE as exc:
            if not unreachable(exc):
                raise
            raise StoreUnavailable(f"the database cannot be reached: {exc}") from exc

    return wrapper
