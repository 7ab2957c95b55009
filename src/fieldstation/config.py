"""Configuration: command-line options override `FIELDSTATION_*` environment variables, which override
the defaults below."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REUSE_PORT_ENV = "FIELDSTATION_REUSE_PORT"
"""Set by `serve --workers` for each of its workers: bind the port shared with the others."""


MIN_DEADLINE_S, MAX_DEADLINE_S = 1.0, 86_400.0
"""The connection deadlines' range: the sweep that enforces them wakes every quarter of the shortest (a
deadline of a millisecond would spin it), and a deadline past a day is none."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDSTATION_", extra="ignore")

    data_dir: Path = Field(
        Path("fieldstation-data"), description="Where the SQLite database and demo files live."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default SQLite in the data dir. PostgreSQL: postgresql+asyncpg://user@host/db",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65_535, description="The port to listen on.")
    rate_limits: dict[str, float] = Field(
        default_factory=dict,
        description="Overrides of the vendors' rate limits, seconds per request per key, by group, e.g. "
        '{"awt.data": 0} to lift the /data limit for local work. Groups: awt.token, awt.devices, '
        "awt.latest, awt.data, awt.archive.",
    )
    demo: bool = Field(
        True, description="Create the demo project on a new data dir, and keep its fixes coming."
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info", description="The least severe log records written."
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="Logs as text lines for people, or as JSON lines for a log collector."
    )
    header_timeout_s: float = Field(
        10.0,
        ge=MIN_DEADLINE_S,
        le=MAX_DEADLINE_S,
        description="A client must send a request's headers within this many seconds, or is cut off.",
    )
    access_log: bool = Field(
        False,
        description="A log line per request; off by default (it costs more than it tells at full load).",
    )
    ws_compression: bool = Field(
        False,
        description="Per-message deflate on WebSockets: less bandwidth, a deflate stream per subscriber.",
    )
    ws_max_unsent_bytes: int = Field(
        4 * 1024 * 1024,
        ge=64 * 1024,
        le=1024 * 1024 * 1024,
        description="A WebSocket subscriber with more events than this unsent on its connection (it stopped "
        "reading, or its link is slower than the events) is closed with 1013: the most memory one can hold.",
    )
    send_timeout_s: float = Field(
        60.0,
        ge=MIN_DEADLINE_S,
        le=MAX_DEADLINE_S,
        description="A client must take some of what it is sent (a response, WebSocket events) within this "
        "many seconds while any of it waits, or its connection is cut.",
    )
    body_timeout_s: float = Field(
        30.0,
        ge=MIN_DEADLINE_S,
        le=MAX_DEADLINE_S,
        description="A client must send a request's body within this many seconds of its headers.",
    )

    mqtt_port: int = Field(
        8883,
        ge=0,
        le=65_535,
        description="The embedded MQTT broker's port for the gateways' link (TLS, client certificates); "
        "0 turns it off. Ignored when mqtt_url is set.",
    )
    mqtt_url: str | None = Field(
        None,
        description="An external broker for the gateways' link instead of the embedded one, e.g. "
        "mqtts://broker.example.org:8883 (Mosquitto: `fieldstation mqtt mosquitto-config`).",
    )
    mqtt_public_host: str | None = Field(
        None,
        description="The host name gateways reach the broker by, written into their bundles' .env and the "
        "embedded broker's certificate; default: the host of the request that downloads the bundle.",
    )

    redis_url: str | None = Field(
        None,
        description="Redis shared by several workers (rate limits, events), e.g. redis://127.0.0.1:6379/0; "
        "needed for --workers above 1.",
    )
    workers: int = Field(1, ge=1, le=64, description="Worker processes serving the same port.")
    portal_tiles: str | None = Field(
        None,
        description="A tile source for the portal's map, over the basemap that ships with the hub: a URL "
        "template such as http://tiles.station.lan/{z}/{x}/{y}.png (local tiles) or an online one. "
        "Default: the shipped basemap alone (country borders and coastlines), which needs no network.",
    )
    portal_tiles_attribution: str = Field(
        "", description="The credit line the tile source asks for, shown in the map's corner."
    )

    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'fieldstation.db'}"
