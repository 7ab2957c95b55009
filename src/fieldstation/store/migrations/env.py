"""Alembic environment. fieldstation runs migrations itself (`store.migrate`), handing Alembic an open
connection; there is no alembic.ini to keep in step."""

from __future__ import annotations

from alembic import context

from fieldstation.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
