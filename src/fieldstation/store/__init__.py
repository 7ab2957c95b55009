"""Persistence: schema, migrations and queries over SQLAlchemy Core, on SQLite (default) or PostgreSQL."""

from sqlalchemy.exc import InterfaceError, OperationalError

from fieldstation.store.database import connect, migrate
from fieldstation.store.repository import Store

UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, ConnectionError)
"""What the store raises when the database cannot be reached (down, locked past the timeout, disk gone)."""

__all__ = ["UNAVAILABLE", "Store", "connect", "migrate"]
