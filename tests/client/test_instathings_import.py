"""`fieldstation import instathings`: the demo's devices and data records copied with their ids, a second
run adding nothing, `--follow` storing what the WebSocket announces afterwards."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldstation.assembly import close_hub, open_hub
from fieldstation.client import AsyncInstathingsClient, InstathingsClient
from fieldstation.config import Settings
from fieldstation.core.models import CredentialKind
from fieldstation.imports import Checkpoint, Tally, ignore
from fieldstation.imports.instathings import InstathingsImport
from tests.cli.test_cli import fieldstation
from tests.client.conftest import Exchanges, meter
from tests.conftest import Harness, LiveServer, start_server, ttn_uplink


def records(client: InstathingsClient) -> dict[str, dict[str, Any]]:
    """Every record of every device, by record id, with its device's name in place of the device's id (each
    hub makes its own ids) and without `ttl` (when this hub's retention will remove it)."""
    names = {d["id"]: d["name"] for d in client.devices()}
    return {
        r["id"]: {**r, "deviceId": names[r["deviceId"]], "ttl": None}
        for device_id in names
        for page in client.data_pages(device_id)
        for r in page
    }


def test_the_demo_copied_by_the_command(live_server: LiveServer, tmp_path: Path) -> None:
    demo = live_server.demo_credentials()["instathings"]
    target_dir = tmp_path / "target"
    copy = json.loads(fieldstation(target_dir, "project", "create", "copy", "--json").stdout)["instathings"]
    command = [
        "import",
        "instathings",
        "--project",
        "copy",
        "--from",
        f"{live_server.base}/instathings",
        "--json",
    ]
    env = {"INSTATHINGS_CLIENT_ID": demo["client_id"], "INSTATHINGS_CLIENT_SECRET": demo["client_secret"]}
    first = json.loads(fieldstation(target_dir, *command, env=env).stdout)
    assert first["devices_created"] == 5 and first["records"] > 500 and first["refused_count"] == 0
    again = json.loads(fieldstation(target_dir, *command, env=env).stdout)
    assert again["devices_created"] == 0 and again["already_there"] <= 1  # the record at the first's end

    target = start_server(target_dir)
    try:
        theirs = records(
            InstathingsClient(
                demo["client_id"], demo["client_secret"], base_url=f"{live_server.base}/instathings"
            )
        )
        ours = records(
            InstathingsClient(copy["client_id"], copy["client_secret"], base_url=f"{target.base}/instathings")
        )
        assert len(ours) == first["records"] + again["records"]
        assert ours == {record_id: theirs[record_id] for record_id in ours}  # every other field the same
    finally:
        target.process.terminate()
        target.process.wait(timeout=10)


def test_follow_stores_what_the_socket_announces(live_server: LiveServer, tmp_path: Path) -> None:
    demo = live_server.demo_credentials()
    awt = demo["awt"]
    basic = base64.b64encode(f"{awt['username']}:{awt['password']}".encode()).decode()

    def uplink() -> str:
        response = httpx.post(
            f"{live_server.base}/awt/v2/ttn-webhook",
            content=ttn_uplink("A0C9B00000795A01", 2041, 700_001),
            headers={"X-API-KEY": awt["api_key"], "Authorization": f"Basic {basic}"},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["recordId"])

    async def follow() -> tuple[str, set[str]]:
        hub = await open_hub(Settings(data_dir=tmp_path / "target", demo=False))
        try:
            project = (await hub.projects.create("copy")).project
            following = asyncio.Event()

            def watch(tally: Tally) -> None:
                if tally.following:
                    following.set()

            things = demo["instathings"]
            client = AsyncInstathingsClient(
                things["client_id"], things["client_secret"], base_url=f"{live_server.base}/instathings"
            )
            checkpoint = Checkpoint(tmp_path, "copy", "instathings", live_server.base, things["client_id"])
            importer = InstathingsImport(hub, project, client, checkpoint, watch)
            task = asyncio.create_task(importer.run(None, follow=True))
            await asyncio.wait_for(following.wait(), 30)
            await asyncio.sleep(0.5)  # the socket is open
            late = await asyncio.to_thread(uplink)
            for _ in range(200):
                if importer.tally.records and late in await _uids(hub, project.id):
                    break
                await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await client.aclose()
            return late, await _uids(hub, project.id)
        finally:
            await close_hub(hub)

    late, held = asyncio.run(follow())
    assert late in held


async def _uids(hub: Any, project_id: int) -> set[str]:
    from fieldstation.core.ports import UplinkFilter

    return {u.uid async for chunk in hub.readings.uplinks(UplinkFilter(project_id=project_id)) for u in chunk}


class Stop(Exception):
    pass


def test_an_import_stopped_half_way_resumes_at_its_page(harness: Harness, tmp_path: Path) -> None:
    source = harness.project("source")
    device = meter(harness, source, 250)
    issued = source.credentials[CredentialKind.INSTATHINGS]
    assert issued.credential.username is not None
    things = InstathingsClient(
        issued.credential.username,
        issued.api_key,
        base_url="http://testserver/instathings",
        http=harness.client,
    )
    gateway = things.create_device({"name": "gateway", "isGateway": True})
    things.create_device({"name": "doc", "isVirtual": True, "parentDevice": gateway["id"]})
    harness.clock.advance(1)
    target = harness.run(lambda: open_hub(Settings(data_dir=tmp_path / "target", demo=False), harness.clock))
    copy = harness.run(lambda: target.projects.create("copy")).project

    def run(seen: Exchanges, watcher: Any = ignore) -> Tally:
        async def work() -> Tally:
            http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=harness.client.app),
                event_hooks={"response": [seen.async_hook]},
            )
            client = AsyncInstathingsClient(
                issued.credential.username or "",
                issued.api_key,
                base_url="http://testserver/instathings",
                http=http,
            )
            checkpoint = Checkpoint(tmp_path, "copy", "instathings", "source", "key")
            async with client:
                return await InstathingsImport(target, copy, client, checkpoint, watcher).run(
                    None, follow=False
                )

        return harness.run(work)

    def stop_after_two_pages(tally: Tally) -> None:
        if tally.records >= 200:
            raise Stop

    try:
        with pytest.raises(Stop):
            run(Exchanges(), stop_after_two_pages)
        resumed = Exchanges()
        tally = run(resumed)
        pages = [url for _, url, _ in resumed.seen if url.endswith(f"/{device.short_id}/data")]
        assert len(pages) == 1 and tally.records == 50 and tally.already_there == 0  # its page 3 only
        again = run(Exchanges())
        assert again.records == 0 and again.devices_created == 0
        for checkpoint in (tmp_path / "imports").glob("*.json"):
            checkpoint.unlink()  # lost: the devices are found again by the GUIDs their ids there give
        lost = run(Exchanges())
        assert lost.devices_created == 0 and lost.records == 0 and lost.already_there == 250
        held = harness.run(lambda: _uids(target, copy.id))
        assert len(held) == 250
        devices = {d.name: d for d in harness.run(lambda: target.devices.list(copy))}
        assert devices["gateway"].is_gateway and devices["doc"].parent_id == devices["gateway"].id
        assert devices["doc"].is_virtual and not devices["doc"].demo_active
    finally:
        harness.run(lambda: close_hub(target))
