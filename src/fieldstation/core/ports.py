"""What the core needs from the outside world, as protocols. `store.Store` implements `StorePort`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from fieldstation.core.models import (
    Command,
    CommandStatus,
    Credential,
    CredentialKind,
    DailyUsage,
    Decoded,
    Device,
    DeviceActivity,
    LogLine,
    NewDevice,
    NewUplink,
    Operation,
    Operator,
    OperatorSession,
    Project,
    Reading,
    StoredUplink,
)

UID_KEY = "uid:"
"""Prefix of a dedup key made of the network's own id for an uplink (an Astrocast messageGuid). Such a key
never ages out of the dedup window: the id names one message for ever."""


@dataclass(frozen=True, slots=True)
class ReadingToStore:
    """One decoded uplink, ready to be written with the views rendered for it."""

    device: Device
    uid: str
    uplink: NewUplink | None
    decoded: Decoded
    awt_json: str
    inserted_us: int | None = None
    """Set only to back-date history (the demo); otherwise the commit's own time."""
    dedup_key: str | None = None
    """Equal keys of one project within the dedup window are one uplink, stored once."""


@dataclass(frozen=True, slots=True)
class StoredReading:
    uid: str
    """The reading's uid; for a duplicate, the uid of the reading stored the first time."""
    duplicate: bool


@dataclass(frozen=True, slots=True)
class ReadingWindow:
    """Which readings a page holds. `order` names both the filter column and the sort key, and the id
    breaks ties, so that paging by offset never skips or repeats a reading."""

    project_id: int
    order: Literal["inserted", "time"]
    since_us: int
    until_us: int
    device_id: int | None = None
    after_position: int | None = None
    """Commit positions (`ReadingStore.commit_horizon`): readings after this one, up to and including
    `up_to_position`. Read cursors page by them."""
    up_to_position: int | None = None
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class UplinkFilter:
    project_id: int
    device_id: int | None = None
    received_since_us: int | None = None
    received_until_us: int | None = None
    created_since_us: int | None = None
    created_until_us: int | None = None
    limit: int | None = None
    offset: int = 0


class ReadingRenderer(Protocol):
    """A view's rendering of a reading, kept with the reading for speed (the AWT Reading object: an archive
    page of 50,000 readings is then a concatenation). The view owns it; the core keeps it current."""

    depends_on: tuple[str, ...]
    """The `Device` fields the rendering shows: a change to one of them refreshes the device's renderings."""

    def render(self, device: Device, uid: str, decoded: Decoded) -> str: ...

    def refresh(self, device: Device, rendered: str) -> str:
        """A stored rendering, brought up to date with the device as it is now."""
        ...


class PayloadDecoder(Protocol):
    """Payload codecs by name (`codecs.CODECS`). `decode` never raises: a payload it cannot read is a
    `Decoded` with `error` set."""

    def names(self) -> list[str]: ...

    def decode(self, name: str, payload: bytes, received_us: int) -> Decoded: ...


class DownlinkPort(Protocol):
    """A way to the devices: satellite, gateway link. It takes a command and moves it on (sent, failed)."""

    async def deliver(self, command: Command) -> None: ...


class SettingStore(Protocol):
    """Hub-wide settings (the token signing secret, the link's certificate authority)."""

    async def setting(self, key: str) -> str | None: ...

    async def setting_or_create(self, key: str, value: str) -> str: ...


class LeaseStore(Protocol):
    """Leases on work that must happen once across workers."""

    async def claim_lease(self, name: str, holder: str, now_us: int, ttl_us: int) -> bool:
        """Take or renew the lease: True when `holder` holds it until now + ttl (it was free, expired, or
        already its own)."""
        ...


class ProjectStore(Protocol):
    """Projects, the tenants."""

    async def create_project(
        self, *, name: str, short_id: str, created_us: int, auto_register: bool, is_demo: bool
    ) -> Project: ...

    async def project_by_name(self, name: str) -> Project | None: ...

    async def project_by_id(self, project_id: int) -> Project | None: ...

    async def project_by_short_id(self, short_id: str) -> Project | None: ...

    async def projects(self) -> list[Project]: ...

    async def update_project(
        self, project_id: int, *, auto_register: bool, settings: dict[str, Any]
    ) -> None: ...


class CredentialStore(Protocol):
    """API credentials: keys by digest, passwords hashed."""

    async def add_credential(
        self,
        *,
        project_id: int,
        kind: CredentialKind,
        key_digest: str,
        username: str | None,
        password_hash: str | None,
        created_us: int,
    ) -> Credential: ...

    async def credential_by_digest(self, key_digest: str) -> Credential | None: ...

    async def credentials(self, project_id: int) -> list[Credential]: ...

    async def credential_by_id(self, credential_id: int) -> Credential | None: ...

    async def revoke_credential(self, credential_id: int, revoked_us: int) -> bool: ...


class DeviceStore(Protocol):
    """Devices and their virtual-device schedule."""

    async def add_device(
        self, *, project_id: int, device: NewDevice, guid: str, short_id: str, created_us: int, tag_from: int
    ) -> Device:
        """Add a device; one without a tag id gets the project's next free one from `tag_from` up."""
        ...

    async def devices(self, project_id: int) -> list[Device]: ...

    async def device_by_tag(self, project_id: int, tag_id: int) -> Device | None: ...

    async def device_by_eui(self, project_id: int, eui: str) -> Device | None: ...

    async def device_by_guid(self, project_id: int, guid: str) -> Device | None: ...

    async def device_by_short_id(self, project_id: int, short_id: str) -> Device | None: ...

    async def update_device(self, device_id: int, **changes: Any) -> None: ...

    async def delete_device(self, device_id: int) -> None: ...

    async def claim_virtual_tick(
        self, device_id: int, expected_next_us: int | None, next_us: int
    ) -> bool: ...

    async def due_virtual_devices(self, now_us: int) -> list[tuple[Device, int | None]]: ...


@dataclass(frozen=True, slots=True)
class Fix:
    """A reading with a position and no parse error: one point of a track (exports)."""

    time_us: int
    latitude: float
    longitude: float
    values: dict[str, Any]
    """What the codec read besides the position (voltage, temperature_c, altitude_m, speed_kph, hdop_m...)."""


class ReadingStore(Protocol):
    """Uplinks and readings: the group commit, the views' queries, read cursors, retention."""

    async def store_readings(
        self, items: Sequence[ReadingToStore], inserted_us: int, dedup_window_us: int
    ) -> list[StoredReading]: ...

    async def add_network_event(
        self,
        *,
        project_id: int,
        device_id: int | None,
        network: str,
        kind: str,
        received_us: int,
        meta: dict[str, Any],
        raw: bytes,
    ) -> None: ...

    async def reading_by_uid(self, project_id: int, uid: str) -> Reading | None: ...

    async def rewrite_renderings(self, device_id: int, refresh: Callable[[str], str]) -> int:
        """Pass each of the device's stored renderings through `refresh`; returns how many."""
        ...

    async def commit_horizon(self, project_id: int) -> int:
        """A commit position at or below which every reading that will ever exist is already committed.
        Positions follow commit order, not id order: with several writers, a reading with a smaller id may
        commit after one with a larger id, and a cursor over ids would skip it for good."""
        ...

    async def latest_device_time(self, device_id: int) -> int | None: ...

    def stream_awt_json(self, window: ReadingWindow) -> AsyncIterator[list[str]]: ...

    async def move_cursor(
        self, credential_id: int, name: str, position: int, now_us: int
    ) -> tuple[int, int] | None: ...

    def stream_uplinks(self, where: UplinkFilter) -> AsyncIterator[list[StoredUplink]]: ...

    def stream_fixes(self, device_id: int, since_us: int, until_us: int) -> AsyncIterator[list[Fix]]:
        """The device's fixes taken within [since_us, until_us], by time, in chunks."""
        ...

    async def count_fixes(self, device_ids: Sequence[int], since_us: int, until_us: int) -> int: ...

    async def device_activity(self, project_id: int) -> dict[int, DeviceActivity]: ...

    async def daily_usage(
        self, project_id: int, device_id: int | None, since_us: int | None, until_us: int | None
    ) -> list[DailyUsage]: ...

    async def device_data(
        self, device_id: int, since_us: int | None, until_us: int | None, offset: int, limit: int
    ) -> tuple[list[tuple[Reading, dict[str, Any]]], int]: ...

    async def purge_readings(self, project_id: int, before_us: int) -> int: ...

    async def prepare_partitions(self, now_us: int) -> list[str]:
        """Make the partitions that should exist around `now_us`, if the store has partitions; their names."""
        ...

    async def drop_partitions(self, before_us: int) -> int:
        """Drop whole partitions of rows stored before `before_us`; returns how many readings went."""
        ...


class CommandStore(Protocol):
    """Commands (downlinks) and their lifecycle."""

    async def add_command(
        self,
        *,
        project_id: int,
        device: Device,
        guid: str,
        reference: str | None,
        data: bytes,
        created_us: int,
        expires_us: int | None,
    ) -> Command: ...

    async def command_by_guid(self, project_id: int, guid: str) -> Command | None: ...

    async def commands(
        self,
        project_id: int,
        device_id: int | None,
        status: CommandStatus | None,
        since_us: int | None,
        until_us: int | None,
    ) -> list[Command]: ...

    async def move_command(
        self,
        command_id: int,
        from_statuses: tuple[CommandStatus, ...],
        to_status: CommandStatus,
        stamp: str,
        when_us: int,
        *,
        received_us: int | None = None,
    ) -> bool: ...

    async def expire_commands(self, now_us: int) -> int: ...


class OperationStore(Protocol):
    """Operations (requests awaiting a device's answer) and log lines."""

    async def add_operation(
        self,
        *,
        short_id: str,
        project_id: int,
        device_id: int,
        action: str,
        request: dict[str, Any],
        created_us: int,
        deadline_us: int,
    ) -> Operation: ...

    async def operation_by_short_id(self, project_id: int, short_id: str) -> Operation | None: ...

    async def answer_operation(self, operation_id: int, response: Any, answered_us: int) -> bool: ...

    async def add_log_lines(self, project_id: int, lines: Sequence[LogLine]) -> None: ...

    async def log_lines(
        self, device_id: int, container: str, since_us: int | None, until_us: int | None, limit: int
    ) -> list[LogLine]: ...


class OperatorStore(Protocol):
    """Portal operators, the projects granted to them, and their sign-in sessions."""

    async def add_operator(
        self, *, username: str, password_hash: str, is_admin: bool, created_us: int
    ) -> Operator: ...

    async def operator_by_username(self, username: str) -> Operator | None: ...

    async def operators(self) -> list[Operator]: ...

    async def remove_operator(self, operator_id: int) -> None: ...

    async def set_operator_password(self, operator_id: int, password_hash: str) -> None:
        """Also ends every session of the operator."""
        ...

    async def grant_projects(self, operator_id: int, project_ids: Sequence[int]) -> None: ...

    async def revoke_projects(self, operator_id: int, project_ids: Sequence[int]) -> None: ...

    async def add_operator_session(
        self, *, token_digest: str, operator_id: int, csrf_token: str, created_us: int, expires_us: int
    ) -> None:
        """Also forgets the operator's sessions that expired by `created_us`."""
        ...

    async def operator_session(self, token_digest: str, now_us: int) -> OperatorSession | None: ...

    async def end_operator_session(self, token_digest: str) -> None: ...


class StorePort(
    SettingStore,
    LeaseStore,
    ProjectStore,
    CredentialStore,
    OperatorStore,
    DeviceStore,
    ReadingStore,
    CommandStore,
    OperationStore,
    Protocol,
):
    """All of the store: what the hub is assembled with. Each service asks for the narrow ports it uses."""

    async def ping(self) -> None:
        """Raises when the store cannot be reached (readiness)."""
        ...
