"""An adapter's installation, run by the agent in a process of its own so that its exit status, stdout and
stderr are real: `python -m fieldstation.gateway.adapters.install PROTOCOL_ID '{"parameters": ...}'`."""

from __future__ import annotations

import asyncio
import sys

import orjson

from fieldstation.gateway.adapters import ADAPTERS
from fieldstation.gateway.adapters.base import AdapterError


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(
            "usage: python -m fieldstation.gateway.adapters.install PROTOCOL_ID PARAMETERS_JSON",
            file=sys.stderr,
        )
        return 2
    protocol, parameters = argv[0], orjson.loads(argv[1] or "{}")
    adapter = ADAPTERS.get(protocol)
    if adapter is None:
        print(
            f"this agent has no adapter for protocol {protocol}; it has {', '.join(ADAPTERS)}",
            file=sys.stderr,
        )
        return 1
    try:
        sys.stdout.write(asyncio.run(adapter.check(parameters if isinstance(parameters, dict) else {})))
    except AdapterError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
