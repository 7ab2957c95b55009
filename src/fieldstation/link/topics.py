"""Topics of the link, after the vendor's gateway agent (`../shared/specs/instathings.md`).

Every topic is `{kind}/{projectId}/{clientId}/...`. In a live project the client id is the gateway's id and
the topic is used as is; in any other environment the client id is `{env}-{gatewayId}` and the whole topic
is prefixed with `{env}-` (the seed's `staging-discover/qw9qxyV_U/staging-bErr2i6qv/device/post`).

A gateway's certificate names it `{projectId}/{clientId}` (its common name), so a broker admits it to
`{kind}/{projectId}/{clientId}/#` of each kind and nothing else (Mosquitto: `use_identity_as_username` and
`pattern readwrite discover/%u/#`).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

LIVE = "live"
ENV_SETTING = "instathings_env"
"""The project setting that says which environment its gateways' link is in (default `sandbox`)."""

DISCOVER = "discover"
"""Pairing, protocol installs, versions and logs (both directions)."""
CONTROL = "control"
"""`set`, `get`, `remove` down to a device; `fetch` (a status answer) up."""
STATUS = "status"
"""The gateway's session: `connected` when it connects, its last will (`disconnected`) when it is lost."""
OUTBOX = "outbox"
"""Batches of data records from the gateway's outbox, each acknowledged once the hub has committed it."""
ACK = "ack"
"""The hub's acknowledgements of outbox batches."""
DATA = "data"
"""`data/{p}/{c}/{deviceId}`: one record, the device's own JSON (the topic given at pairing; no
acknowledgement: a gateway that needs nothing lost uses its outbox)."""

NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
"""Socket options of every client of the link. Without them a small message written while the previous one
is unacknowledged waits for the peer's delayed ACK: 40 ms on Linux, twice per batch round trip (measured:
87 ms from a batch to its acknowledgement, against 6 ms with them)."""

KINDS = (DISCOVER, CONTROL, STATUS, OUTBOX, ACK, DATA)
UP_KINDS = (DISCOVER, CONTROL, STATUS, OUTBOX, DATA)
"""What a hub subscribes to (down-going messages on these kinds are filtered out by their last level)."""

DOWN_DISCOVER = frozenset({"device/post", "protocol/post", "software/update", "protocol/update"})
DOWN_CONTROL = frozenset({"set", "get", "remove"})


@dataclass(frozen=True, slots=True)
class Address:
    """Where one gateway's topics are."""

    env: str
    project: str
    gateway: str

    @property
    def client_id(self) -> str:
        return self.gateway if self.env == LIVE else f"{self.env}-{self.gateway}"

    @property
    def identity(self) -> str:
        """The common name of the gateway's certificate, and its user name at a broker."""
        return f"{self.project}/{self.client_id}"

    def topic(self, kind: str, *rest: str) -> str:
        prefix = "" if self.env == LIVE else f"{self.env}-"
        return "/".join([f"{prefix}{kind}", self.project, self.client_id, *rest])


@dataclass(frozen=True, slots=True)
class Parsed:
    address: Address
    kind: str
    rest: tuple[str, ...]


def parse(topic: str) -> Parsed | None:
    """A link topic's parts, or None for a topic that is not one (or names its gateway inconsistently)."""
    levels = topic.split("/")
    if len(levels) < 3:
        return None
    first, project, client_id, *rest = levels
    env, dash, kind = first.rpartition("-")
    if not dash:
        env = LIVE
    if kind not in KINDS or not project or not client_id or env == "":
        return None
    if env == LIVE:
        gateway = client_id
    else:
        gateway_env, _, gateway = client_id.partition("-")
        if gateway_env != env or not gateway:
            return None
    return Parsed(Address(env, project, gateway), kind, tuple(rest))


def hub_subscriptions(envs: tuple[str, ...]) -> list[str]:
    """The topic filters a hub reads, for the environments its projects are in."""
    filters = []
    for env in envs:
        prefix = "" if env == LIVE else f"{env}-"
        filters += [f"{prefix}{kind}/+/+/#" for kind in UP_KINDS]
    return filters


def gateway_subscriptions(address: Address) -> list[str]:
    return [
        address.topic(DISCOVER, "device", "post"),
        address.topic(DISCOVER, "protocol", "post"),
        address.topic(DISCOVER, "software", "update"),
        address.topic(DISCOVER, "protocol", "update"),
        address.topic(CONTROL, "+", "+"),
        address.topic(ACK),
    ]


def acl_patterns() -> list[str]:
    """Mosquitto ACL patterns that confine a gateway (user name = its certificate's identity) to its own
    topics. `%u` is `{projectId}/{clientId}`; the `{env}-` prefixed kinds are listed for sandbox projects."""
    patterns = []
    for prefix in ("", "sandbox-"):
        patterns += [f"pattern readwrite {prefix}{kind}/%u/#" for kind in KINDS]
        patterns += [f"pattern readwrite {prefix}{kind}/%u" for kind in KINDS]
    return patterns


def admits(identity: str, topic: str) -> bool:
    """Whether a gateway whose certificate names it `identity` may use `topic` (a name or a filter): one
    of the link's kinds, then its own project and client id. What `acl_patterns` says to Mosquitto."""
    first, _, rest = topic.partition("/")
    kind = first.rpartition("-")[2]
    if kind not in KINDS:
        return False
    return rest == identity or rest.startswith(identity + "/")
