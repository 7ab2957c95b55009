"""`AstrocastClient` and `AsyncAstrocastClient` against a live hub: messages by received-date windows,
commands to a final status, a 503 waited out, CSV streamed to a file, errors with the vendor's body."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldstation.client import ApiError, AstrocastClient, AsyncAstrocastClient
from fieldstation.core.clock import MICROS, FakeClock
from fieldstation.core.hashing import key_digest
from fieldstation.core.models import CredentialKind
from fieldstation.core.projects import CreatedProject
from tests.client.conftest import HubClock, watch
from tests.conftest import Harness, LiveServer
from tests.dialects.astrocast.conftest import astronode, send

BASE = "http://testserver/astrocast/v1"
SECRET = "callback-secret"


class HookedClock(HubClock):
    """A hub clock that runs `on_sleep` at the client's first wait: what happens meanwhile on the hub."""

    def __init__(self, clock: FakeClock, on_sleep: Callable[[], object]) -> None:
        super().__init__(clock)
        self.on_sleep: Callable[[], object] | None = on_sleep

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        hook, self.on_sleep = self.on_sleep, None
        if hook is not None:
            hook()


def client_of(harness: Harness, created: CreatedProject, clock: HubClock | None = None) -> AstrocastClient:
    return AstrocastClient(
        created.credentials[CredentialKind.ASTROCAST].api_key,
        base_url=BASE,
        http=harness.client,
        clock=clock or HubClock(harness.clock),
    )


def now(harness: Harness) -> datetime:
    return datetime.fromtimestamp(harness.clock.now_us() / MICROS, UTC)


def test_messages_by_received_date_windows(harness: Harness) -> None:
    created = harness.project()
    device = astronode(harness, created)
    start = now(harness)
    sent = []
    for n in range(5):
        sent.append(send(harness, device, bytes([n]) * 4).uid)
        harness.clock.advance(8 * 3600)
    astrocast = client_of(harness, created)
    windows = list(astrocast.message_windows(start - timedelta(minutes=1)))
    assert len(windows) == 2  # 40 hours in windows of a day
    assert [m["messageGuid"] for w in windows for m in w["messages"]] == sent
    assert [m["messageGuid"] for m in astrocast.messages(start, device_guid=device.guid)] == sent
    assert list(astrocast.messages(start + timedelta(days=3))) == []
    assert astrocast.device(device.guid)["deviceGuid"] == device.guid
    assert [d["deviceGuid"] for d in astrocast.devices()] == [device.guid]


def test_a_command_sent_cancelled_and_waited_for(harness: Harness) -> None:
    created = harness.project()
    device = astronode(harness, created)
    clock = HubClock(harness.clock)
    astrocast = client_of(harness, created, clock)
    command = astrocast.send_command(device.guid, b"\x10" * 8, reference="open valve")
    assert command["commandStatus"] == 0 and command["commandReference"] == "open valve"
    assert astrocast.commands(device.guid) == [command]
    with pytest.raises(TimeoutError):
        astrocast.wait_for_command(command["commandGuid"], timeout_s=30, poll_s=10)
    assert clock.waits == [10, 10, 10]  # asked at 0, 10, 20 and 30 s
    cancelled = astrocast.cancel_command(command["commandGuid"])
    assert cancelled["commandStatus"] == 3
    assert astrocast.wait_for_command(command["commandGuid"], timeout_s=30) == cancelled
    assert astrocast.commands(status=0) == []


def test_waiting_until_the_device_acknowledges(harness: Harness) -> None:
    created = harness.project()
    device = astronode(harness, created)
    digest = key_digest(SECRET)
    harness.run(
        lambda: harness.hub.projects.configure(created.project, astrocast_callback_secret_sha256=digest)
    )
    guid: list[str] = []

    def acknowledged_meanwhile() -> None:
        response = harness.client.post(
            f"/astrocast/v1/callbacks/{created.project.name}/commands",
            json={"commandGuid": guid[0], "receivedDate": "2026-09-21T15:00:00Z", "ackReceivedDate": "2026-09-21T15:00:05Z"},
            headers={"X-Callback-Secret": SECRET},
        )  # fmt: skip
        assert response.status_code == 200

    astrocast = client_of(harness, created, HookedClock(harness.clock, acknowledged_meanwhile))
    guid.append(astrocast.send_command(device.guid, b"\x01" * 40)["commandGuid"])
    final = astrocast.wait_for_command(guid[0], timeout_s=600)
    assert final["commandStatus"] == 4 and final["ackReceivedDate"] == "2026-09-21T15:00:05Z"


def test_a_503_is_waited_out(harness: Harness) -> None:
    created = harness.project()
    exchanges = watch(harness)
    harness.run(lambda: harness.hub.projects.configure(created.project, maintenance=True))
    over = HookedClock(
        harness.clock,
        lambda: harness.run(lambda: harness.hub.projects.configure(created.project, maintenance=None)),
    )
    assert client_of(harness, created, over).devices() == []
    assert [s for _, _, s in exchanges.seen] == [503, 200]
    assert over.waits == [pytest.approx(900.25)]  # the seed's "try after" of 15 minutes


def test_csv_is_streamed_into_a_file(harness: Harness, tmp_path: Path) -> None:
    created = harness.project()
    device = astronode(harness, created)
    guids = {send(harness, device, bytes([n]) * 8).uid for n in range(3)}
    target = tmp_path / "messages.csv"
    client_of(harness, created).download_messages_csv(target, device_guid=device.guid)
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert {row["messageGuid"] for row in rows} == guids
    assert not list(tmp_path.glob(".*partial"))


def test_errors_carry_the_status_and_the_vendors_body(harness: Harness, tmp_path: Path) -> None:
    created = harness.project()
    astrocast = client_of(harness, created)
    missing = "00000000-0000-0000-0000-000000000001"
    with pytest.raises(ApiError) as refused:
        astrocast.device(missing)
    assert refused.value.status == 404 and refused.value.body == {"message": f"Device {missing} not found."}
    with pytest.raises(ApiError) as bad:
        astrocast.download_messages_csv(tmp_path / "x.csv", device_guid=missing)
    assert bad.value.status == 404
    assert not (tmp_path / "x.csv").exists()
    wrong = AstrocastClient("nope", base_url=BASE, http=harness.client)
    with pytest.raises(ApiError) as unknown:
        wrong.devices()
    assert unknown.value.status == 401 and "x-api-key" in unknown.value.body["message"]


def test_the_async_client_over_http(live_server: LiveServer, tmp_path: Path) -> None:
    api_key = live_server.demo_credentials()["astrocast"]["api_key"]
    since = datetime.now(UTC) - timedelta(days=10)

    async def read() -> tuple[list[str], list[str], Path]:
        async with AsyncAstrocastClient(api_key, base_url=f"{live_server.base}/astrocast/v1") as astrocast:
            devices = [d["deviceGuid"] for d in await astrocast.devices()]
            messages = [m["deviceGuid"] async for m in astrocast.messages(since)]
            csv_file = await astrocast.download_messages_csv(tmp_path / "all.csv", since=since)
            return devices, messages, csv_file

    devices, messages, csv_file = asyncio.run(read())
    assert set(messages) <= set(devices) and len(messages) > 100
    assert len(list(csv.DictReader(csv_file.open()))) >= len(messages)
