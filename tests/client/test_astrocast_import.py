"""`fieldstation import astrocast`: the demo's messages copied with their messageGuids, a run without the
checkpoint adding nothing it had copied, `--follow` picking up a message that reaches the source later."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from fieldstation.assembly import close_hub, open_hub
from fieldstation.client import AstrocastClient, AsyncAstrocastClient
from fieldstation.client.astrocast import Message
from fieldstation.config import Settings
from fieldstation.core.models import CredentialKind
from fieldstation.core.ports import UplinkFilter
from fieldstation.imports import Checkpoint, Tally, ignore
from fieldstation.imports.astrocast import AstrocastImport
from tests.cli.test_cli import fieldstation
from tests.client.conftest import Exchanges, HubClock
from tests.client.test_astrocast_client import BASE, now
from tests.conftest import Harness, LiveServer, start_server
from tests.dialects.astrocast.conftest import astronode, send


def messages(client: AstrocastClient, since: datetime) -> dict[str, Message]:
    return {m["messageGuid"]: m for m in client.messages(since)}


def test_the_demos_messages_copied_by_the_command(live_server: LiveServer, tmp_path: Path) -> None:
    api_key = live_server.demo_credentials()["astrocast"]["api_key"]
    since = (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0)
    target_dir = tmp_path / "target"
    copy_key = json.loads(fieldstation(target_dir, "project", "create", "copy", "--json").stdout)["astrocast"]
    command = ["import", "astrocast", "--project", "copy", "--from", f"{live_server.base}/astrocast/v1"]
    command += ["--since", since.isoformat(), "--json"]
    first = json.loads(fieldstation(target_dir, *command, env={"ASTROCAST_API_KEY": api_key}).stdout)
    assert first["records"] > 100 and first["refused_count"] == 0
    [checkpoint] = (target_dir / "imports").glob("copy.astrocast.*.json")
    copied_until = datetime.fromisoformat(json.loads(checkpoint.read_text())["received_until"])

    checkpoint.unlink()  # a run from scratch: everything it reads again is already there
    again = json.loads(fieldstation(target_dir, *command, env={"ASTROCAST_API_KEY": api_key}).stdout)
    assert again["already_there"] >= first["records"] and again["devices_created"] == 0

    target = start_server(target_dir)
    try:
        theirs = messages(AstrocastClient(api_key, base_url=f"{live_server.base}/astrocast/v1"), since)
        ours = messages(AstrocastClient(copy_key["api_key"], base_url=f"{target.base}/astrocast/v1"), since)
        settled = {g for g, m in theirs.items() if datetime.fromisoformat(m["receivedDate"]) <= copied_until}
        assert len(settled) == first["records"]
        assert settled <= ours.keys()
        assert ours == {guid: theirs[guid] for guid in ours}  # every field as the source shows it
    finally:
        target.process.terminate()
        target.process.wait(timeout=10)


def test_follow_picks_up_a_later_message(harness: Harness, tmp_path: Path) -> None:
    source = harness.project("source")
    device = astronode(harness, source)
    send(harness, device, b"\x01" * 8)
    harness.clock.advance(120)
    target = harness.run(lambda: open_hub(Settings(data_dir=tmp_path / "target", demo=False), harness.clock))
    harness.run(lambda: target.projects.create("copy"))
    clock = HubClock(harness.clock, real_pause_s=0.01)
    following = asyncio.Event()
    seen = Exchanges()

    def watcher(tally: Tally) -> None:
        if tally.following:
            following.set()

    async def start() -> asyncio.Task[Tally]:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=harness.client.app), event_hooks={"response": [seen.async_hook]}
        )
        client = AsyncAstrocastClient(
            source.credentials[CredentialKind.ASTROCAST].api_key, base_url=BASE, http=http, clock=clock
        )
        checkpoint = Checkpoint(tmp_path, "copy", "astrocast", BASE, "key")
        importer = AstrocastImport(target, await target.projects.get("copy"), client, checkpoint, watcher)
        return asyncio.create_task(importer.run(now(harness) - timedelta(days=1), follow=True))

    async def held() -> set[str]:
        copy = await target.projects.get("copy")
        return {
            u.uid async for chunk in target.readings.uplinks(UplinkFilter(project_id=copy.id)) for u in chunk
        }

    task = harness.run(start)
    try:
        harness.run(lambda: asyncio.wait_for(following.wait(), 10))
        assert len(harness.run(held)) == 1
        late = send(harness, device, b"\x02" * 8)
        deadline = time.monotonic() + 10
        while late.uid not in harness.run(held) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert late.uid in harness.run(held)
    finally:
        task.cancel()
        harness.run(lambda: asyncio.gather(task, return_exceptions=True))
        harness.run(lambda: close_hub(target))
    assert seen.statuses().keys() == {200}


def test_a_device_the_hub_would_refuse_is_added_under_its_guid(harness: Harness, tmp_path: Path) -> None:
    """A name or description with a line break, or too long, does not stop the import for good."""
    target = harness.run(lambda: open_hub(Settings(data_dir=tmp_path / "target", demo=False), harness.clock))
    try:
        copy = harness.run(lambda: target.projects.create("copy")).project
        client = AsyncAstrocastClient("key", base_url=BASE)
        importer = AstrocastImport(
            target, copy, client, Checkpoint(tmp_path, "copy", "astrocast", BASE, "k"), ignore
        )
        guid = "c984ff2b-e4d0-417f-8ea3-11d74a55d251"
        found: Any = {"deviceGuid": guid, "name": "river\ngauge", "description": "x" * 500}
        device = harness.run(lambda: importer._device(guid, found))
        assert device.name == "Astronode c984ff2b" and device.asset is None
        harness.run(client.aclose)
    finally:
        harness.run(lambda: close_hub(target))
