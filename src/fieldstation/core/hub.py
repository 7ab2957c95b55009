"""The hub: the core services wired to a store, a clock and a rate limiter. Dialects receive one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from fieldstation.core.auth import AUTH_POLICY, Authenticator
from fieldstation.core.certificates import CertificateAuthority
from fieldstation.core.clock import Clock
from fieldstation.core.commands import Commands
from fieldstation.core.devices import Devices
from fieldstation.core.events import EventBus
from fieldstation.core.freshness import Freshness, SignalFor, in_process
from fieldstation.core.gateways import Gateways
from fieldstation.core.ids import api_secret
from fieldstation.core.ingest import Ingestor
from fieldstation.core.leases import Leases
from fieldstation.core.meters import MeteredLimiter, Meters, NoMeters
from fieldstation.core.operations import Operations
from fieldstation.core.operators import SIGN_IN_POLICY, Operators
from fieldstation.core.ports import PayloadDecoder, ReadingRenderer, StorePort
from fieldstation.core.projects import Projects
from fieldstation.core.ratelimit import Limit, MemoryRateLimiter, RateLimiter
from fieldstation.core.readings import Readings
from fieldstation.core.tokens import TokenIssuer
from fieldstation.core.virtual import VirtualDevices

TOKEN_SECRET_SETTING = "jwt_secret"


@dataclass(frozen=True, slots=True)
class Hub:
    store: StorePort
    clock: Clock
    auth: Authenticator
    tokens: TokenIssuer
    limiter: RateLimiter
    projects: Projects
    devices: Devices
    commands: Commands
    ingestor: Ingestor
    events: EventBus
    operations: Operations
    certificates: CertificateAuthority
    virtual: VirtualDevices
    freshness: Freshness
    readings: Readings
    gateways: Gateways
    leases: Leases
    meters: Meters
    operators: Operators
    readiness: tuple[tuple[str, Callable[[], Awaitable[object]]], ...] = ()
    """What else must answer for the hub to be ready (Redis), by name."""
    background: tuple[Callable[[], Coroutine[Any, Any, None]], ...] = ()
    """Work the hub's parts need running while it serves (the shared event bus's exchange with the other
    workers); the server starts each as a task."""


async def build_hub(
    store: StorePort,
    clock: Clock,
    *,
    renderer: ReadingRenderer,
    codecs: PayloadDecoder,
    rate_policy: Mapping[str, Limit],
    changes: SignalFor | None = None,
    limiter: RateLimiter | None = None,
    events: EventBus | None = None,
    background: tuple[Callable[[], Coroutine[Any, Any, None]], ...] = (),
    meters: Meters | None = None,
    readiness: tuple[tuple[str, Callable[[], Awaitable[object]]], ...] = (),
) -> Hub:
    """Wire the services. The token signing secret is made at the first start and kept in the store, so
    that every worker of one installation accepts the others' tokens. `changes` gives the signals the
    processes of one installation announce their changes on (one process alone: none needed). `limiter`
    and `events` replace the in-process ones (Redis, for several workers)."""
    secret = await store.setting_or_create(TOKEN_SECRET_SETTING, api_secret(48))
    freshness = Freshness(changes or in_process)
    devices = Devices(store, clock, freshness, codecs, renderer)
    meters = meters or NoMeters()
    events = events or EventBus(meters)
    ingestor = Ingestor(store, clock, renderer, events, devices, codecs, meters)
    limiter = MeteredLimiter(
        limiter or MemoryRateLimiter({**AUTH_POLICY, **SIGN_IN_POLICY, **rate_policy}, clock), meters
    )
    operations = Operations(store, clock, events)
    return Hub(
        store=store,
        clock=clock,
        auth=Authenticator(store, clock, limiter, freshness),
        tokens=TokenIssuer(secret, clock),
        limiter=limiter,
        projects=Projects(store, clock, freshness),
        devices=devices,
        commands=Commands(store, clock),
        ingestor=ingestor,
        events=events,
        operations=operations,
        certificates=CertificateAuthority(store, clock),
        virtual=VirtualDevices(store, clock, ingestor),
        freshness=freshness,
        readings=Readings(store, clock),
        gateways=Gateways(devices, ingestor, operations, events, clock, meters),
        leases=Leases(store, clock),
        operators=Operators(store, store, clock, limiter),
        background=background,
        meters=meters,
        readiness=readiness,
    )
