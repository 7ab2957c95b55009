"""The shape every adapter has: what the agent calls (pair, unpair, control, status, close) and what an
adapter calls back (`Emit`, to keep a data record). An adapter's `check` is its installation: run in a
process of its own by `install`, its exit status, stdout and stderr are what the hub is told."""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from fieldstation.gateway.outbox import Delivery, PairedDevice


class Emit(Protocol):
    """Keep a record of (device id, the device's JSON); returns once it is safe on disk. With `delivery`, a
    message its source sends again is kept once."""

    def __call__(self, device_id: str, payload: Any, delivery: Delivery | None = None) -> Awaitable[None]: ...


class AdapterError(Exception):
    """The device could not be reached or did not understand; the message says which."""


class Adapter(abc.ABC):
    protocol: str
    """The protocol id (`link.protocols`)."""
    slug: str

    def __init__(self, emit: Emit, agent_id: str = "fieldstation-gateway") -> None:
        self._emit = emit
        self.agent_id = agent_id
        """The gateway's client id: what an adapter names itself by to its devices' brokers."""
        self.log = logging.getLogger(f"fieldstation.gateway.adapters.{self.slug}")

    @staticmethod
    @abc.abstractmethod
    async def check(parameters: Mapping[str, Any]) -> str:
        """Whether the adapter can work here (its installation): returns what to report, raises
        AdapterError saying why not."""

    @abc.abstractmethod
    async def pair(self, device: PairedDevice) -> bool:
        """Find the device and start forwarding its data; False when it cannot be paired."""

    @abc.abstractmethod
    async def unpair(self, device_id: str) -> None: ...

    @abc.abstractmethod
    async def control(self, device: PairedDevice, request: Mapping[str, Any]) -> None:
        """A `set`: the REST caller's body, query, and for HTTP devices the path and method."""

    @abc.abstractmethod
    async def status(self, device: PairedDevice, request: Mapping[str, Any]) -> Any:
        """A `get`: the device's answer, its own JSON."""

    async def close(self) -> None:  # noqa: B027 (most adapters hold nothing to close)
        """Stop every task and connection."""
