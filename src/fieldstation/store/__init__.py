"""Persistence: schema, migrations and queries over SQLAlchemy Core, on SQLite (default) or PostgreSQL.

Nothing is imported here: the SQLite writer process (`writer_process`) imports this package and must
start without SQLAlchemy. `store.database` has `connect` and `migrate`, `store.repository` the `Store`."""
