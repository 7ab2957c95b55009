"""Dialect-neutral domain types. Times are UTC epoch microseconds (`*_us`) everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class CredentialKind(StrEnum):
    AWT = "awt"
    ASTROCAST = "astrocast"
    INSTATHINGS = "instathings"


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str
    short_id: str
    created_us: int
    auto_register: bool = False
    is_demo: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    """Operator settings, such as `actility_as_key` (see docs/configuration.md)."""


@dataclass(frozen=True, slots=True)
class Credential:
    id: int
    project_id: int
    kind: CredentialKind
    key_digest: str
    username: str | None
    password_hash: str | None
    created_us: int
    revoked_us: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_us is None


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A credential together with its secrets, which exist in clear only at creation."""

    credential: Credential
    api_key: str
    password: str | None


@dataclass(frozen=True, slots=True)
class NewDevice:
    name: str
    tag_id: int | None = None
    eui: str | None = None
    asset: str | None = None
    device_type: str = "LoRA"
    software_version: int | None = None
    codec: str = "awt-frame"
    manufactured_us: int | None = None
    guid: str | None = None
    """The Astrocast deviceGuid, when the device is one of a real Astrocast account; else made here."""
    is_gateway: bool = False
    parent_id: int | None = None
    is_virtual: bool = False
    demo_active: bool = False
    frequency_s: int = 60
    type_id: str | None = None
    protocols: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """What a gateway's adapter needs to reach the device (`{"host": "10.0.0.7:80"}`)."""


@dataclass(frozen=True, slots=True)
class Device:
    id: int
    project_id: int
    guid: str
    short_id: str
    name: str
    tag_id: int | None
    eui: str | None
    asset: str | None
    device_type: str
    software_version: int | None
    codec: str
    created_us: int
    manufactured_us: int | None = None
    is_gateway: bool = False
    parent_id: int | None = None
    is_virtual: bool = False
    demo_active: bool = False
    frequency_s: int = 60
    type_id: str | None = None
    protocols: tuple[str, ...] = ()
    certificate_id: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    link_state: Mapping[str, Any] | None = None
    """A gateway's link as the hub last saw it: `status` (its session), `versions`, `outbox`."""


@dataclass(frozen=True, slots=True)
class NewUplink:
    """An uplink exactly as it arrived, before it has a row."""

    source: str
    payload: bytes
    received_us: int
    raw: bytes = b""
    eui: str | None = None
    f_cnt: int | None = None
    f_port: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    device_time_us: int | None = None
    """When the network says the device made it (Astrocast createdDate), for payloads that do not say."""
    position: tuple[float, float] | None = None
    """Where the network located the device, for payloads that carry no position."""
    uid: str | None = None
    """The network's own id for the uplink (Astrocast messageGuid): becomes the reading's uid, and the key
    a repeat of it is recognised by."""
    codec: str | None = None
    """The codec of this payload when it is not the device's own: an imported history's records
    (`fieldstation import`) arrive as the vendor's JSON, the device's next uplinks as its frames."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a codec made of a payload: a pure value, no identity, no storage."""

    device_time_us: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reading:
    id: int
    uid: str
    project_id: int
    device_id: int
    uplink_id: int | None
    time_us: int
    """The device's own time for the reading; the receive time when the payload did not say."""
    inserted_us: int
    latitude: float | None
    longitude: float | None
    values: dict[str, Any]
    error: str | None
    warnings: tuple[str, ...] = ()
    """What decoding noticed but did not refuse: a CRC mismatch, a frame's tag id that is not the device's."""


class CommandStatus(IntEnum):
    """A command's lifecycle (docs/astrocast.md). Astrocast documents only 4, acknowledged; the others
    are fieldstation's and stable."""

    PENDING = 0
    """Accepted, waiting for a link to take it to the device."""
    SENT = 1
    """Handed to the link (satellite, gateway) for the device."""
    FAILED = 2
    """The link could not deliver it."""
    CANCELLED = 3
    """Cancelled before the device acknowledged it."""
    ACKNOWLEDGED = 4
    """The device acknowledged it."""
    EXPIRED = 5
    """Its expiration date passed before the device acknowledged it."""

    @property
    def final(self) -> bool:
        return self not in (CommandStatus.PENDING, CommandStatus.SENT)


@dataclass(frozen=True, slots=True)
class Command:
    id: int
    guid: str
    project_id: int
    device_id: int
    device_guid: str
    reference: str | None
    data: bytes
    status: CommandStatus
    created_us: int
    expires_us: int | None = None
    sent_us: int | None = None
    received_us: int | None = None
    acknowledged_us: int | None = None
    cancelled_us: int | None = None
    failed_us: int | None = None
    expired_us: int | None = None


@dataclass(frozen=True, slots=True)
class StoredUplink:
    """An uplink with what its reading made of it: what the Astrocast API calls a message."""

    uid: str
    device_id: int
    device_guid: str
    source: str
    received_us: int
    time_us: int
    latitude: float | None
    longitude: float | None
    payload: bytes


@dataclass(frozen=True, slots=True)
class DeviceActivity:
    last_message_us: int | None = None
    last_command_us: int | None = None
    last_location_us: int | None = None
    last_latitude: float | None = None
    last_longitude: float | None = None


@dataclass(frozen=True, slots=True)
class DailyUsage:
    device_id: int
    day_us: int
    """Midnight UTC of the day."""
    messages_count: int = 0
    messages_size: int = 0
    commands_count: int = 0
    commands_size: int = 0


@dataclass(frozen=True, slots=True)
class Operation:
    """A request to a device that waits for its answer (an Instathings status request)."""

    id: int
    short_id: str
    project_id: int
    device_id: int
    action: str
    request: dict[str, Any]
    created_us: int
    deadline_us: int
    response: Any = None
    answered_us: int | None = None


@dataclass(frozen=True, slots=True)
class LogLine:
    device_id: int
    container: str
    kind: str
    """LOG or ERR."""
    message: str
    logged_us: int
    ingested_us: int


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened in a project, for live subscribers (the Instathings WebSocket)."""

    project_id: int
    action: str
    """data, status, log, connected, disconnected, paired, ..."""
    payload: dict[str, Any]
    rendered: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """What views made of it, by view: an event goes to every subscriber of its project, and is rendered
    once for all of them."""


@dataclass(frozen=True, slots=True)
class Operator:
    """A person who signs in to the portal: sees the projects granted to it, an admin every project."""

    id: int
    username: str
    password_hash: str
    is_admin: bool
    created_us: int
    project_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class OperatorSession:
    """A portal sign-in: the operator, and the token its forms must carry (CSRF)."""

    operator: Operator
    csrf_token: str
    expires_us: int
