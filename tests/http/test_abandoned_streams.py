"""A client that asks for a long page and goes away must cost the hub next to nothing.

The stream's database connection is closed while the request is being cancelled. Unshielded from that
cancellation, the close spun: anyio delivered the cancellation again at every step of the loop, and
SQLAlchemy's shielded close retried, thousands of times per page (50 to 90 ms of the event loop's CPU,
measured), which any client could repeat at will. The hub is driven here in-process, through ASGI, by a
client whose disconnect arrives as soon as the page is asked for, and the retries are counted."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import uvloop

from fieldstation.app import create_app
from fieldstation.codecs import awt_frame
from fieldstation.config import Settings
from fieldstation.core.hub import Hub
from fieldstation.core.models import CredentialKind, NewDevice, NewUplink, Project
from tests.conftest import NO_RATE_LIMITS, basic

ABANDONED = 5
READINGS = 20_000
"""Enough that reading a page takes the driver's thread a while: the spin needed the connection's close to
wait for it."""


async def _fill(hub: Hub, project: Project, count: int) -> None:
    device = await hub.devices.add(project, NewDevice(name="busy", tag_id=7, eui="00000000000000E7"))
    for start in range(0, count, 1_000):
        uplinks = [
            NewUplink(
                "test",
                awt_frame.encode(tag_id=7, fix_time=1_789_000_000 + n, latitude=-1, longitude=2, voltage=3.7),
                1_789_000_100_000_000 + n,
                f_cnt=n,
            )
            for n in range(start, start + 1_000)
        ]
        await hub.ingestor.ingest(device, uplinks)


async def _call(
    app: Any, path: str, query: str, headers: dict[str, str], *, leave: bool
) -> tuple[int, bytes]:
    """One request; with `leave`, the client's disconnect is the next thing the app hears from it."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET" if leave else "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    answer: dict[str, Any] = {"status": None, "body": b""}

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        if not leave:
            await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


def _count_calls(name: str, counts: list[int]) -> Any:
    def profile(frame: FrameType, event: str, _: object) -> None:
        if event == "call" and frame.f_code.co_name == name:
            counts[0] += 1

    return profile


def test_an_abandoned_page_closes_its_connection_without_spinning(tmp_path: Path) -> None:
    async def scenario() -> int:
        app: Any = create_app(Settings(data_dir=tmp_path, demo=False, rate_limits=NO_RATE_LIMITS))
        startup: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await startup.put({"type": "lifespan.startup"})
        lifespan = asyncio.create_task(
            app({"type": "lifespan", "asgi": {"version": "3.0"}}, startup.get, sent.put)
        )
        assert (await sent.get())["type"] == "lifespan.startup.complete"
        hub = app.state.hub()
        created = await hub.projects.create("abandon")
        await _fill(hub, created.project, READINGS)
        awt = created.credentials[CredentialKind.AWT]
        status, body = await _call(
            app, "/awt/v2/token", "",
            {"X-API-KEY": awt.api_key, "Authorization": basic(awt.credential.username or "", awt.password or "")},
            leave=False,
        )  # fmt: skip
        assert status == 200, body
        headers = {"X-API-KEY": awt.api_key, "Authorization": f"Bearer {orjson.loads(body)['token']}"}
        retries = [0]
        sys.setprofile(_count_calls("shield", retries))
        try:
            for _ in range(ABANDONED):
                await _call(app, "/awt/v2/data", "", headers, leave=True)
        finally:
            sys.setprofile(None)
        await startup.put({"type": "lifespan.shutdown"})
        await lifespan
        return retries[0]

    retries = uvloop.run(scenario())  # the loop the hub runs on
    # A close that is not cancelled shields itself once or twice; the spin did so thousands of times.
    assert retries < 20 * ABANDONED, f"{retries} shielded retries for {ABANDONED} abandoned pages"
