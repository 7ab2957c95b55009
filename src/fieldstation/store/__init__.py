"""Persistence: schema, migrations and queries over SQLAlchemy Core, on SQLite (default) or PostgreSQL."""

from fieldstation.store.database import connect, migrate
from fieldstation.store.repository import Store

__all__ = ["Store", "connect", "migrate"]
