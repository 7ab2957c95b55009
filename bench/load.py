"""A small HTTP/1.1 load generator for the benchmarks: keep-alive connections in one process (run it in
a process of its own so it does not share the server's core), requests built by a function of their
sequence number, each answer's status and latency recorded.

    python -m bench.load --help
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

RequestFactory = Callable[[int], bytes]
"""Sequence number -> the whole request, head and body."""


@dataclass
class Outcome:
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0

    @property
    def completed(self) -> int:
        return sum(self.statuses.values())


def request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode() + b"\r\n" + body


async def _connection(
    host: str,
    port: int,
    make: RequestFactory,
    counter: list[int],
    deadline: float,
    outcome: Outcome,
    keep: bool,
    paced: tuple[float, float] | None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            n = counter[0]
            counter[0] += 1
            if paced is not None:  # request n is due at first + n / rate
                first, rate = paced
                due = first + n / rate
                if due >= deadline:
                    return
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            start = time.perf_counter()
            writer.write(make(n))
            status_line = await reader.readline()
            if not status_line:
                outcome.errors += 1
                return
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            outcome.latencies.append(time.perf_counter() - start)
            status = int(status_line.split()[1])
            outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
            if keep:
                outcome.bodies.append(body)
    finally:
        writer.close()


async def run(
    host: str,
    port: int,
    make: RequestFactory,
    *,
    connections: int,
    seconds: float,
    keep_bodies: bool = False,
    rate: float | None = None,
) -> Outcome:
    """As many requests as `connections` keep-alive connections take in `seconds`, or, with `rate`, that
    many a second on a fixed schedule (an open loop, as devices send: a slow answer does not slow the
    schedule while connections remain)."""
    outcome = Outcome()
    counter = [0]
    start = time.perf_counter()
    deadline = start + seconds
    paced = None if rate is None else (start, rate)
    await asyncio.gather(
        *[
            _connection(host, port, make, counter, deadline, outcome, keep_bodies, paced)
            for _ in range(connections)
        ]
    )
    outcome.elapsed_s = time.perf_counter() - start
    return outcome


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0
