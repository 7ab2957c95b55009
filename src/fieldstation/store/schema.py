"""The tables. Every time is a UTC epoch-microsecond integer (`*_us`); every row belongs to one project.

Migrations in `migrations/versions` create exactly these tables; `tests/store/test_migrations.py` checks
that the two agree on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    false,
)
from sqlalchemy.sql.expression import ColumnElement, FromClause

metadata = MetaData()

Id = BigInteger().with_variant(Integer, "sqlite")
"""64-bit ids; on SQLite an INTEGER PRIMARY KEY so that the id is the rowid."""

ONLY_ON_SQLITE = {"dialect": "sqlite"}
ONLY_ON_POSTGRESQL = {"dialect": "postgresql"}
"""A table, index or constraint that only one store has (as `info`): `belongs_to` says which."""


def belongs_to(dialect: str, item: object) -> bool:
    """Whether a table, index or constraint of this schema exists on the store of `dialect`."""
    return bool(getattr(item, "info", {}).get("dialect", dialect) == dialect)


hub_settings = Table(
    "hub_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("short_id", String(16), nullable=False, unique=True),
    Column("created_us", BigInteger, nullable=False),
    Column("auto_register", Boolean, nullable=False, default=False),
    Column("is_demo", Boolean, nullable=False, default=False),
    Column("settings", Text, nullable=False, server_default="{}"),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("key_digest", String(64), nullable=False, unique=True),
    Column("username", String(128)),
    Column("password_hash", String(255)),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger),
    Index("ix_credentials_project", "project_id", "kind"),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("guid", String(36), nullable=False),
    Column("short_id", String(16), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("tag_id", BigInteger),
    Column("eui", String(32)),
    Column("asset", String(128)),
    Column("device_type", String(32), nullable=False),
    Column("software_version", Integer),
    Column("codec", String(64), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("manufactured_us", BigInteger),
    # Instathings: gateways and their sub-devices, virtual devices.
    Column("is_gateway", Boolean, nullable=False, server_default=false()),
    Column("parent_id", Id, ForeignKey("devices.id", ondelete="CASCADE")),
    Column("is_virtual", Boolean, nullable=False, server_default=false()),
    Column("demo_active", Boolean, nullable=False, server_default=false()),
    Column("frequency_s", Integer, nullable=False, server_default="60"),
    Column("virtual_next_us", BigInteger),
    Column("type_id", String(64)),
    Column("protocols", Text, nullable=False, server_default="[]"),
    Column("certificate_id", String(64)),
    # The gateway link: an adapter's parameters (JSON), and a gateway's session, versions, outbox (JSON).
    Column("parameters", Text, nullable=False, server_default="{}"),
    Column("link_state", Text),
    UniqueConstraint("project_id", "tag_id", name="uq_devices_project_tag"),
    UniqueConstraint("project_id", "eui", name="uq_devices_project_eui"),
    # Ids from outside (an Astrocast deviceGuid) are unique per project: two projects may hold one device.
    Index("ux_devices_project_guid", "project_id", "guid", unique=True),
)

uplinks = Table(
    "uplinks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", Id, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("source", String(32), nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("inserted_us", BigInteger, nullable=False),
    Column("eui", String(32)),
    Column("f_cnt", BigInteger),
    Column("f_port", Integer),
    Column("payload", LargeBinary, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("meta", Text, nullable=False),
    # eui, frame counter and payload digest: the same uplink delivered again (several gateways, webhook
    # retries) is stored once. Older than the dedup window, a key is retired (suffixed with the row id).
    Column("dedup_key", String(96)),
    Index("ix_uplinks_device_received", "device_id", "received_us"),
    Index("ix_uplinks_project_received", "project_id", "received_us", "id"),
    # PostgreSQL keeps the keys in `uplink_keys`: a unique index of a partitioned table must contain the
    # partition key, and a retry landing in the next month would be stored twice.
    Index("ux_uplinks_dedup", "project_id", "dedup_key", unique=True, info=ONLY_ON_SQLITE),
    # PostgreSQL: partitioned by month of `inserted_us` (store/partitions.py); its primary key is then
    # (id, inserted_us), which the partitioning requires. Ids still come from one sequence.
    postgresql_partition_by="RANGE (inserted_us)",
)

uplink_keys = Table(
    "uplink_keys",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("dedup_key", String(96), primary_key=True),
    Column("inserted_us", BigInteger, nullable=False),
    # The uid of the reading that the key's uplink produced: what a repeat is answered with.
    Column("uid", String(36), nullable=False),
    Index("ix_uplink_keys_project_inserted", "project_id", "inserted_us"),
    info=ONLY_ON_POSTGRESQL,
)
"""PostgreSQL: the uplinks' dedup keys, unique across all partitions (batch_write.py). A key older than the
dedup window is taken over by the next uplink that brings it; retention deletes keys with their uplinks."""

readings = Table(
    "readings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(36), nullable=False),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", Id, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("uplink_id", Id),
    Column("time_us", BigInteger, nullable=False),
    Column("inserted_us", BigInteger, nullable=False),
    # The later of the time stored and the reading's own time. PostgreSQL partitions readings by its month,
    # so that a window starting at T (by either time) reads only the partitions from T's month on, and a
    # partition whose month ended before every project's retention began is dropped whole.
    Column("partition_us", BigInteger, nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("values_json", Text, nullable=False),
    Column("error", Text),
    Column("warnings", Text),
    # The AWT Reading object, rendered once when the reading is written: an archive page of 50,000
    # readings is then a concatenation, not 50,000 renderings (docs/performance.md).
    Column("awt_json", Text, nullable=False),
    # PostgreSQL: the transaction that wrote the reading (`pg_current_xact_id()`, the column's default), its
    # commit position for read cursors (repository.commit_horizon). NULL on SQLite, where the id is one.
    Column("committed_in", BigInteger),
    # The pages' covering indexes. PostgreSQL also keeps the partition key in them, so that a page's rows
    # are then read from their own partition (repository.page_sql).
    *(
        Index(
            f"ix_readings_{owner}_{key}",
            f"{owner}_id",
            f"{key}_us",
            "id",
            postgresql_include=["partition_us"],
        )
        for owner in ("project", "device")
        for key in ("inserted", "time")
    ),
    # A uid may come from outside (an Astrocast messageGuid). What keeps it to one reading per project is
    # the uplink's dedup key (`uid:` keys never go stale); PostgreSQL cannot keep a unique index across
    # partitions.
    Index("ix_readings_project_uid", "project_id", "uid"),
    # A repeated uplink is answered with its first reading's uid, found by uplink.
    Index("ix_readings_uplink", "uplink_id"),
    # A reading's uplink is stored in the same transaction, with the same `inserted_us`. PostgreSQL cannot
    # point a foreign key at a partitioned table's id alone; retention deletes the two together.
    ForeignKeyConstraint(["uplink_id"], ["uplinks.id"], ondelete="SET NULL", info=ONLY_ON_SQLITE),
    postgresql_partition_by="RANGE (partition_us)",
)

network_events = Table(
    "network_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", Id, ForeignKey("devices.id", ondelete="CASCADE")),
    Column("network", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("meta", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Index("ix_network_events_device", "device_id", "received_us"),
)

commands = Table(
    "commands",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("guid", String(36), nullable=False, unique=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", Id, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("reference", String(256)),
    Column("data", LargeBinary, nullable=False),
    Column("status", Integer, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger),
    Column("sent_us", BigInteger),
    Column("received_us", BigInteger),
    Column("acknowledged_us", BigInteger),
    Column("cancelled_us", BigInteger),
    Column("failed_us", BigInteger),
    Column("expired_us", BigInteger),
    Index("ix_commands_project_created", "project_id", "created_us", "id"),
    Index("ix_commands_device_created", "device_id", "created_us"),
)

operations = Table(
    "operations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("short_id", String(16), nullable=False, unique=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", Id, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("action", String(16), nullable=False),
    Column("request", Text, nullable=False),
    Column("response", Text),
    Column("created_us", BigInteger, nullable=False),
    Column("deadline_us", BigInteger, nullable=False),
    Column("answered_us", BigInteger),
)

log_lines = Table(
    "log_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", Id, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("container", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Column("logged_us", BigInteger, nullable=False),
    Column("ingested_us", BigInteger, nullable=False),
    Index("ix_log_lines_device", "device_id", "container", "logged_us"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_us", BigInteger, nullable=False),
)

read_cursors = Table(
    "read_cursors",
    metadata,
    Column("credential_id", Id, ForeignKey("credentials.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

operators = Table(
    "operators",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("created_us", BigInteger, nullable=False),
)
"""People who sign in to the portal. Not tenants' API clients: an operator sees the projects granted to it
(`operator_projects`), an admin every project."""

operator_projects = Table(
    "operator_projects",
    metadata,
    Column("operator_id", Id, ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
)

operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("token_digest", String(64), primary_key=True),
    Column("operator_id", Id, ForeignKey("operators.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Index("ix_operator_sessions_operator", "operator_id"),
)
"""Portal sign-ins, by the SHA-256 of the cookie's token (the token itself is never stored)."""


def same_uplink(reading: FromClause) -> ColumnElement[bool]:
    """The join of a reading to its uplink. Both were stored at one `inserted_us`, which takes the look-up
    to the uplink's own partition on PostgreSQL."""
    return and_(uplinks.c.id == reading.c.uplink_id, uplinks.c.inserted_us == reading.c.inserted_us)
