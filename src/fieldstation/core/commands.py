"""Commands (downlinks): created by an API, carried by a link, ended by an acknowledgement, a cancellation,
a failure or their expiry. Every transition is a conditional update in the store, so two of them racing
(a cancel and an acknowledgement) cannot both win."""

from __future__ import annotations

from dataclasses import dataclass

from fieldstation.core.clock import Clock
from fieldstation.core.devices import normalize_guid
from fieldstation.core.errors import InvalidInput, NotFound
from fieldstation.core.ids import guid
from fieldstation.core.models import Command, CommandStatus, Device, Project
from fieldstation.core.ports import CommandStore, DownlinkPort

OPEN = (CommandStatus.PENDING, CommandStatus.SENT)


class NoLink:
    """Until a link to the devices exists (the gateway agent's issue), commands wait for their
    acknowledgement callback, their cancellation or their expiry."""

    async def deliver(self, command: Command) -> None:
        return None


@dataclass(frozen=True, slots=True)
class CommandFilter:
    device_id: int | None = None
    status: CommandStatus | None = None
    since_us: int | None = None
    until_us: int | None = None


class Commands:
    def __init__(self, store: CommandStore, clock: Clock, link: DownlinkPort | None = None) -> None:
        self._store = store
        self._clock = clock
        self._link: DownlinkPort = link or NoLink()

    async def create(
        self, project: Project, device: Device, data: bytes, *, reference: str | None, expires_us: int | None
    ) -> Command:
        now = self._clock.now_us()
        if expires_us is not None and expires_us <= now:
            raise InvalidInput("expirationDate is in the past")
        command = await self._store.add_command(
            project_id=project.id,
            device=device,
            guid=guid(),
            reference=reference,
            data=data,
            created_us=now,
            expires_us=expires_us,
        )
        await self._link.deliver(command)
        return command

    async def get(self, project: Project, command_guid: str) -> Command:
        await self.expire_due()
        try:  # a GUID in any case, as devices' are (RFC 4122: case-insensitive on input)
            canonical = normalize_guid(command_guid)
        except InvalidInput:
            raise NotFound(f"no command {command_guid} in this project") from None
        command = await self._store.command_by_guid(project.id, canonical)
        if command is None:
            raise NotFound(f"no command {command_guid} in this project")
        return command

    async def list(self, project: Project, where: CommandFilter) -> list[Command]:
        await self.expire_due()
        return await self._store.commands(
            project.id, where.device_id, where.status, where.since_us, where.until_us
        )

    async def cancel(self, project: Project, command_guid: str) -> Command:
        command = await self.get(project, command_guid)
        if command.status.final:
            raise InvalidInput(
                f"command {command_guid} is {command.status.name.lower()} and can no longer be cancelled"
            )
        if not await self._store.move_command(
            command.id, OPEN, CommandStatus.CANCELLED, "cancelled_us", self._clock.now_us()
        ):
            return await self.cancel(project, command_guid)  # it moved meanwhile: answer from its new state
        return await self.get(project, command_guid)

    async def acknowledge(
        self, project: Project, command_guid: str, *, received_us: int | None, acknowledged_us: int | None
    ) -> Command:
        """The device acknowledged the command. Idempotent; the device's word stands even over a cancel or an
        expiry that raced it, since the device did act on it."""
        command = await self.get(project, command_guid)
        if command.status is not CommandStatus.ACKNOWLEDGED:
            when = acknowledged_us or self._clock.now_us()
            moved = await self._store.move_command(
                command.id,
                tuple(CommandStatus),
                CommandStatus.ACKNOWLEDGED,
                "acknowledged_us",
                when,
                received_us=received_us,
            )
            if not moved:
                raise AssertionError("a command in any state can be acknowledged")
        return await self.get(project, command_guid)

    async def expire_due(self) -> int:
        return await self._store.expire_commands(self._clock.now_us())
