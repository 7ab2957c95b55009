"""`fieldstation import awt`: a demo project copied from one hub into another, record for record and within
the seed's limits; a second run adds nothing; an import stopped half-way resumes and ends equal; `--follow`
picks up what reaches the source afterwards."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldstation.assembly import close_hub, open_hub
from fieldstation.client import AsyncAwtClient, AwtClient
from fieldstation.client import awt as awt_client
from fieldstation.config import Settings
from fieldstation.core.clock import MICROS
from fieldstation.core.hub import Hub
from fieldstation.core.models import CredentialKind
from fieldstation.core.ports import ReadingWindow
from fieldstation.core.projects import CreatedProject
from fieldstation.dialects.awt import app as awt_app
from fieldstation.imports import Checkpoint, Tally, ignore
from fieldstation.imports.awt import AwtImport
from tests.cli.test_cli import fieldstation
from tests.client.conftest import Exchanges, HubClock
from tests.client.test_awt_client import readings
from tests.conftest import Harness, LiveServer, start_server

BASE = "http://testserver/awt/v2"


def archive(client: AwtClient) -> dict[str, awt_client.Reading]:
    return {r["recordId"]: r for page in client.archive_pages() for r in page}


def test_a_demo_project_copied_by_the_command(live_server: LiveServer, tmp_path: Path) -> None:
    source = live_server.cli("credential", "create", "--project", "demo", "--kind", "awt")
    reader = live_server.cli(
        "credential", "create", "--project", "demo", "--kind", "awt"
    )  # limits of its own
    target_dir = tmp_path / "target"
    copy = json.loads(fieldstation(target_dir, "project", "create", "copy", "--json").stdout)["awt"]
    ran = fieldstation(
        target_dir, "import", "awt", "--project", "copy", "--from", f"{live_server.base}/awt/v2", "--json",
        env={"AWT_API_KEY": source["api_key"], "AWT_USERNAME": source["username"], "AWT_PASSWORD": source["password"]},
    )  # fmt: skip
    tally = json.loads(ran.stdout)
    assert tally["devices_created"] == 5 and tally["refused_count"] == 0 and not tally["stopped"]
    [checkpoint] = (target_dir / "imports").glob("copy.awt.*.json")
    synced_until = json.loads(checkpoint.read_text())["synced_until"]

    target = start_server(target_dir)
    try:
        theirs = AwtClient(
            reader["api_key"], reader["username"], reader["password"], base_url=f"{live_server.base}/awt/v2"
        )
        ours = AwtClient(
            copy["api_key"], copy["username"], copy["password"], base_url=f"{target.base}/awt/v2"
        )
        # The demo keeps making fixes: everything there a minute before the import began is copied, and
        # every copy is the source's reading, the same recordId and every field the same.
        everything, copied = archive(theirs), archive(ours)
        settled = {k for k, r in everything.items() if (r.get("timestamp") or 2**62) <= synced_until - 60}
        assert len(settled) > 500
        assert settled <= copied.keys()
        assert copied == {record_id: everything[record_id] for record_id in copied}
        assert ours.devices() == theirs.devices()
    finally:
        target.process.terminate()
        target.process.wait(timeout=10)


class Pages:
    """An in-process source (the limited harness: the seed's limits on its fake clock) and a target hub in
    the harness's event loop; archive pages of 100 so that an import takes several."""

    def __init__(self, harness: Harness, created: CreatedProject, target: Hub, clock: HubClock) -> None:
        self.harness = harness
        self.created = created
        self.target = target
        self.clock = clock

    def client(self, exchanges: Exchanges) -> AsyncAwtClient:
        awt = self.created.credentials[CredentialKind.AWT]
        assert awt.credential.username is not None and awt.password is not None
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.harness.client.app),
            event_hooks={"response": [exchanges.async_hook]},
        )
        return AsyncAwtClient(
            awt.api_key, awt.credential.username, awt.password, base_url=BASE, http=http, clock=self.clock
        )

    def run(
        self, directory: Path, exchanges: Exchanges, watcher: Any = ignore, follow: bool = False
    ) -> Tally:
        async def work() -> Tally:
            project = await self.target.projects.get("copy")
            checkpoint = Checkpoint(directory, "copy", "awt", BASE, "key")
            async with self.client(exchanges) as client:
                return await AwtImport(self.target, project, client, checkpoint, watcher).run(None, follow)

        return self.harness.run(work)

    def held(self) -> dict[str, str]:
        """The target's AWT Reading objects, by recordId."""

        async def read() -> dict[str, str]:
            project = await self.target.projects.get("copy")
            window = ReadingWindow(project_id=project.id, order="time", since_us=0, until_us=2**62)
            return {
                json.loads(text)["recordId"]: text
                async for page in self.target.readings.awt_pages(window)
                for text in page
            }

        return self.harness.run(read)


@pytest.fixture
def pages(limited: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(awt_app, "ARCHIVE_PAGE", 100)
    monkeypatch.setattr(awt_client, "ARCHIVE_PAGE", 100)
    created = limited.project("source")
    readings(limited, created, 230, tag_id=1337)
    readings(limited, created, 120, tag_id=2041)
    target = limited.run(lambda: open_hub(Settings(data_dir=tmp_path / "target", demo=False), limited.clock))
    limited.run(lambda: target.projects.create("copy"))
    yield Pages(limited, created, target, HubClock(limited.clock))
    limited.run(lambda: close_hub(target))


def source_objects(pages: Pages) -> dict[str, str]:
    async def read() -> dict[str, str]:
        window = ReadingWindow(project_id=pages.created.project.id, order="time", since_us=0, until_us=2**62)
        return {
            json.loads(text)["recordId"]: text
            async for page in pages.harness.hub.readings.awt_pages(window)
            for text in page
        }

    return pages.harness.run(read)


class Stop(Exception):
    pass


def test_an_import_stopped_half_way_resumes_and_a_rerun_adds_nothing(pages: Pages, tmp_path: Path) -> None:
    first = Exchanges()

    def stop_after_two_pages(tally: Tally) -> None:
        if tally.records >= 200:
            raise Stop

    with pytest.raises(Stop):
        pages.run(tmp_path, first, stop_after_two_pages)
    assert len(pages.held()) == 200

    second = Exchanges()
    tally = pages.run(tmp_path, second)
    archive_calls = [s for s in second.seen if s[1] == "/awt/v2/data/archive"]
    assert len(archive_calls) == 2  # offsets 200 and 300, not from the start
    assert tally.records == 150 and tally.already_there == 0
    assert pages.held() == source_objects(pages)  # field for field, as the source renders them

    third = Exchanges()
    again = pages.run(tmp_path, third)
    assert again.records == 0 and again.devices_created == 0
    assert [p for _, p, _ in third.seen if p.startswith("/awt/v2/data")] == ["/awt/v2/data"]  # by arrival
    assert len(pages.held()) == 350
    for seen in (first, second, third):
        assert seen.statuses().keys() == {200}  # within the seed's limits, the pages 30 s apart
    assert pages.clock.waits and all(w <= 60.25 for w in pages.clock.waits)


def test_follow_picks_up_what_arrives_afterwards(pages: Pages, tmp_path: Path) -> None:
    pages.clock.real_pause_s = 0.01  # the follow loop's waits let the test run
    seen = Exchanges()
    following = asyncio.Event()

    def watch(tally: Tally) -> None:
        if tally.following:
            following.set()

    async def start() -> asyncio.Task[Tally]:
        project = await pages.target.projects.get("copy")
        client = pages.client(seen)
        checkpoint = Checkpoint(tmp_path, "copy", "awt", BASE, "key")
        importer = AwtImport(pages.target, project, client, checkpoint, watch)
        return asyncio.create_task(importer.run(None, follow=True))

    task = pages.harness.run(start)
    pages.harness.run(lambda: asyncio.wait_for(following.wait(), 10))
    device = pages.harness.run(lambda: pages.harness.hub.devices.by_tag(pages.created.project, 2041))
    assert device is not None
    late = pages.harness.fix(device, pages.harness.clock.now_us() // MICROS)

    try:
        deadline = time.monotonic() + 10
        while late.uid not in pages.held() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert late.uid in pages.held()
    finally:
        pages.harness.run(lambda: _cancel(task))
    assert pages.held()[late.uid] == source_objects(pages)[late.uid]


async def _cancel(task: asyncio.Task[Tally]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_the_command_says_what_is_wrong(live_server: LiveServer, tmp_path: Path) -> None:
    fieldstation(tmp_path, "project", "create", "copy", "--json")
    env = {"AWT_API_KEY": "k", "AWT_USERNAME": "u", "AWT_PASSWORD": "p"}
    base = ["import", "awt", "--project", "copy"]
    unreachable = fieldstation(tmp_path, *base, "--from", "http://127.0.0.1:9/awt/v2", env=env, check=False)
    assert unreachable.returncode == 1 and "cannot be reached" in unreachable.stderr
    refused = fieldstation(tmp_path, *base, "--from", f"{live_server.base}/awt/v2", env=env, check=False)
    assert refused.returncode == 1 and "answered 401" in refused.stderr and "credentials" in refused.stderr
    not_awt = fieldstation(tmp_path, *base, "--from", f"{live_server.base}/healthz", env=env, check=False)
    assert not_awt.returncode == 1
    missing = fieldstation(
        tmp_path, "import", "awt", "--project", "copy", check=False, env={"AWT_API_KEY": ""}
    )
    assert missing.returncode == 2 and "--username" in missing.stderr
    nowhere = fieldstation(
        tmp_path,
        "import",
        "awt",
        "--project",
        "nope",
        "--from",
        f"{live_server.base}/awt/v2",
        env=env,
        check=False,
    )
    assert nowhere.returncode == 2 and "no project named" in nowhere.stderr


def test_a_later_run_finds_a_reading_that_arrived_days_late(pages: Pages, tmp_path: Path) -> None:
    """The archive is by reading time: a collar out of coverage for a week delivers fixes taken a week ago.
    A later run reads what arrived since the previous one (`/data`), whatever its time."""
    pages.run(tmp_path, Exchanges())
    pages.harness.clock.advance(3_600)
    device = pages.harness.run(lambda: pages.harness.hub.devices.by_tag(pages.created.project, 2041))
    assert device is not None
    week_old = pages.harness.fix(device, pages.harness.clock.now_us() // MICROS - 7 * 86_400)
    later = pages.run(tmp_path, Exchanges())
    assert later.records == 1 and week_old.uid in pages.held()
    assert pages.held()[week_old.uid] == source_objects(pages)[week_old.uid]


def test_an_imei_held_by_another_tag_here_is_not_taken(pages: Pages, tmp_path: Path) -> None:
    """The target already has a device of that IMEI under another tag: the tag is added by its number,
    and the other device keeps its own readings only."""
    from fieldstation.core.models import NewDevice

    imei = "A0C9B00000000539"  # tag 1337's, as `readings` made it
    copy = pages.harness.run(lambda: pages.target.projects.get("copy"))
    other = pages.harness.run(
        lambda: pages.target.devices.add(copy, NewDevice(name="other", tag_id=9, eui=imei))
    )
    tally = pages.run(tmp_path, Exchanges())
    assert tally.records == 350 and tally.refused_count == 0
    held = [json.loads(text) for text in pages.held().values()]
    assert {r["tagId"] for r in held} == {1337, 2041}
    tag = pages.harness.run(lambda: pages.target.devices.by_tag(copy, 1337))
    assert tag is not None and tag.id != other.id and tag.eui is None


def test_a_record_that_cannot_be_kept_is_refused_not_fatal(pages: Pages, tmp_path: Path) -> None:
    deep: object = 0
    for _ in range(300):  # orjson reads this deep and will not write it
        deep = [deep]

    async def store() -> Tally:
        project = await pages.target.projects.get("copy")
        checkpoint = Checkpoint(tmp_path, "copy", "awt", BASE, "key")
        async with pages.client(Exchanges()) as client:
            importer = AwtImport(pages.target, project, client, checkpoint, ignore)
            hostile: list[Any] = [
                {"recordId": "deep", "tagId": 1337, "lux": deep},
                {"recordId": "x" * 80, "tagId": 1337},
                {"recordId": "t", "tagId": "1337"},  # the seed's Reading has a number
            ]
            await importer.store(hostile, live=False)
            return importer.tally

    tally = pages.harness.run(store)
    assert tally.records == 0 and tally.refused_count == 3
    assert "cannot be kept as JSON" in tally.refused[0]
