"""Operations: a status request to a device that waits for its answer. Stored, so that a restart loses none;
answered by the device through its gateway link, or at once by a virtual device."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.errors import NotFound
from fieldstation.core.events import EventBus
from fieldstation.core.ids import short_id
from fieldstation.core.models import Device, Event, LogLine, Operation, Project
from fieldstation.core.ports import OperationStore

_values = random.Random()
"""Virtual readings' values: a generator of their own, not the interpreter's shared one."""

OPERATION_TTL_S = 86_400
"""An operation's record is kept a day (its Instathings `ttl`)."""
TIMEOUT_S = 60
"""A device that has not answered a status request within a minute is not going to."""


class Operations:
    def __init__(self, store: OperationStore, clock: Clock, events: EventBus) -> None:
        self._store = store
        self._clock = clock
        self._events = events

    async def request_status(self, project: Project, device: Device, request: dict[str, Any]) -> Operation:
        now = self._clock.now_us()
        operation = await self._store.add_operation(
            short_id=short_id(),
            project_id=project.id,
            device_id=device.id,
            action="get",
            request=request,
            created_us=now,
            deadline_us=now + TIMEOUT_S * MICROS,
        )
        if device.is_virtual:
            await self.answer(operation, device, virtual_status(device))
        return operation

    async def control(self, project: Project, device: Device, request: dict[str, Any]) -> Operation:
        """A command for the device (Instathings `set`), kept until its gateway link takes it."""
        now = self._clock.now_us()
        return await self._store.add_operation(
            short_id=short_id(),
            project_id=project.id,
            device_id=device.id,
            action="set",
            request=request,
            created_us=now,
            deadline_us=now + TIMEOUT_S * MICROS,
        )

    async def answer(self, operation: Operation, device: Device, response: Any) -> None:
        if await self._store.answer_operation(operation.id, response, self._clock.now_us()):
            self._events.publish(
                Event(
                    operation.project_id,
                    "status",
                    {
                        "operation": operation.short_id,
                        "device": device.short_id,
                        "response": response,
                        "ttl": operation.created_us // MICROS + OPERATION_TTL_S,
                    },
                )
            )

    async def record_logs(self, device: Device, lines: Sequence[LogLine]) -> None:
        """Keep a device's log lines (a gateway's software logging) and tell live subscribers, one event per
        container. The gateway link is what calls this."""
        if not lines:
            return
        await self._store.add_log_lines(device.project_id, lines)
        by_container: dict[str, list[LogLine]] = defaultdict(list)
        for line in lines:
            by_container[line.container].append(line)
        for container, kept in by_container.items():
            self._events.publish(
                Event(
                    device.project_id,
                    "log",
                    {
                        "device": device.short_id,
                        "container": container,
                        "lines": [
                            {"kind": line.kind, "message": line.message, "logged_us": line.logged_us}
                            for line in kept
                        ],
                    },
                )
            )

    async def logs(
        self, device: Device, container: str, since_us: int | None, until_us: int | None, limit: int
    ) -> list[LogLine]:
        return await self._store.log_lines(device.id, container, since_us, until_us, limit)

    async def find(self, project: Project, operation_short_id: str) -> Operation | None:
        return await self._store.operation_by_short_id(project.id, operation_short_id)

    async def fetch(self, project: Project, operation_short_id: str) -> Operation:
        operation = await self._store.operation_by_short_id(project.id, operation_short_id)
        if operation is None:
            raise NotFound(f"no operation {operation_short_id} in this project")
        return operation

    def timed_out(self, operation: Operation) -> bool:
        return operation.answered_us is None and self._clock.now_us() > operation.deadline_us


def virtual_status(device: Device) -> dict[str, Any]:
    """What a virtual device reports about itself."""
    return {
        "value": _values.randint(0, 100),
        "isVirtualData": True,
        "demoActive": device.demo_active,
        "frequency": device.frequency_s,
    }
