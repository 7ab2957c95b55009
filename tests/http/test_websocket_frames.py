"""Events framed once and written straight to each subscriber's connection (`http.websocket_frames`): the
frames are what the websockets library itself would send, and under `fieldstation serve` every subscriber
gets every event, as a message of its own, in order."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.frames import Frame, Opcode

from fieldstation.http.websocket_frames import text_frame
from tests.backends import Backend
from tests.conftest import basic, start_server, ttn_uplink

EUI = "00000000000000F7"


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 70_000])
def test_a_frame_is_what_the_websockets_library_sends(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)  # multi-byte characters: the length is of the UTF-8 bytes
    assert text_frame(text) == Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


@pytest.mark.live
def test_every_subscriber_gets_every_event_framed_once(tmp_path: Path, backend: Backend) -> None:
    server = start_server(tmp_path / "data", "--no-demo", "--log-level", "debug", env=backend.environment())
    try:
        created = server.cli("project", "create", "frames")
        server.cli("device", "add", "--project", "frames", "--tag-id", "7", "--eui", EUI)
        instathings, awt = created["instathings"], created["awt"]
        token = httpx.post(
            f"{server.base}/instathings/authentication/v1/oauth/token",
            json={"clientId": instathings["client_id"], "clientSecret": instathings["client_secret"]},
        ).json()["access_token"]
        url = server.base.replace("http", "ws") + (
            f"/instathings/ws?project={instathings['project']}&access_token={token}"
        )
        headers = {
            "X-API-KEY": awt["api_key"],
            "Authorization": basic(awt["username"], awt["password"]),
            "Content-Type": "application/json",
        }
        record_ids, received = asyncio.run(_subscribe_and_post(url, headers, server.base, uplinks=60))
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
    assert all(ids == record_ids for ids in received)  # each event a message, in the order committed
    output = (tmp_path / f"server-{server.base.rsplit(':', 1)[1]}.log").read_text()
    assert output.count("events framed once and written to the connection") == 2


async def _subscribe_and_post(
    url: str, headers: dict[str, str], base: str, uplinks: int
) -> tuple[list[str], list[list[str]]]:
    subscribers = [await websockets.connect(url) for _ in range(2)]

    async def read(socket: Any) -> list[str]:
        ids: list[str] = []
        while len(ids) < uplinks:
            event = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if event["action"] == "data":
                ids.append(event["payload"]["id"])
        return ids

    readers = [asyncio.create_task(read(socket)) for socket in subscribers]
    async with httpx.AsyncClient(base_url=base) as client:
        answers = await asyncio.gather(
            *[
                client.post("/awt/v2/ttn-webhook", content=ttn_uplink(EUI, 7, n), headers=headers)
                for n in range(uplinks)
            ]
        )
    assert {answer.status_code for answer in answers} == {201}
    received = await asyncio.gather(*readers)
    for socket in subscribers:
        await socket.close()
    committed = {answer.json()["recordId"] for answer in answers}
    assert set(received[0]) == committed
    return received[0], list(received)
