"""`InstathingsClient` and `AsyncInstathingsClient` against a live hub: the token and its refresh, devices,
data pages to the end, control, status polled with `fetch` until the device answers (or does not), errors
with the vendor's body, and the WebSocket events, which come back after the connection is lost."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from fieldstation.client import ApiError, AsyncInstathingsClient, InstathingsClient, StatusPending
from fieldstation.client.instathings import Event
from fieldstation.core.clock import FakeClock
from fieldstation.core.models import CredentialKind
from fieldstation.core.projects import CreatedProject
from tests.client.conftest import HubClock, meter, watch
from tests.conftest import Harness, LiveServer, ttn_uplink
from tests.gateway.proxy import SilentLink

BASE = "http://testserver/instathings"
PLUG_TYPE = "01c2fd9f-fb3a-45cf-8be3-97e00b7510c6"


def client_of(harness: Harness, created: CreatedProject, clock: HubClock | None = None) -> InstathingsClient:
    issued = created.credentials[CredentialKind.INSTATHINGS]
    assert issued.credential.username is not None
    return InstathingsClient(
        issued.credential.username, issued.api_key, base_url=BASE, http=harness.client,
        clock=clock or HubClock(harness.clock),
    )  # fmt: skip


def test_devices_and_their_data_to_the_end(harness: Harness) -> None:
    created = harness.project()
    seen = watch(harness)
    things = client_of(harness, created)
    made = things.create_device({"name": "sensor", "isVirtual": True})
    assert things.device(made["id"])["name"] == "sensor"
    things.update_device(made["id"], {"name": "river"})
    assert things.device(made["id"])["name"] == "river"
    assert [d["id"] for d in things.devices()] == [made["id"]]
    device = meter(harness, created, 250)
    pages = list(things.data_pages(device.short_id))
    assert [len(p) for p in pages] == [100, 100, 50]
    assert sorted(r["data"]["value"] for p in pages for r in p) == list(range(250))
    assert things.data_page(device.short_id, per_page=5)["totalItems"] == 250
    things.delete_device(made["id"])
    assert [d["id"] for d in things.devices()] == [device.short_id]
    assert seen.calls("POST", "/instathings/authentication/v1/oauth/token") == 1


def test_status_is_polled_until_the_device_answers_or_does_not(harness: Harness) -> None:
    created = harness.project()
    clock = HubClock(harness.clock)
    things = client_of(harness, created, clock)
    virtual = things.create_device({"name": "virtual", "isVirtual": True})
    assert things.status(virtual["id"])["response"]["isVirtualData"] is True
    plug = things.create_device({"name": "plug", "type": PLUG_TYPE})
    things.control(plug["id"], {"state": "TOGGLE"}, query={"duration": "5"})
    with pytest.raises(StatusPending) as silent:
        things.status(plug["id"], path="/relay/0", method="GET", timeout_s=120, poll_s=10)
    assert silent.value.answer["status"] == "timeout"  # the hub's 504 after its minute
    assert clock.waits == [10] * 7  # polled every 10 s until the hub said 504, past its minute


def test_the_token_is_renewed_before_its_hour_and_when_refused(harness: Harness) -> None:
    created = harness.project()
    seen = watch(harness)
    things = client_of(harness, created)
    things.devices()
    harness.clock.advance(56 * 60)
    things.devices()
    assert seen.calls("POST", "/instathings/authentication/v1/oauth/token") == 2
    lagging = client_of(harness, created, HubClock(FakeClock(harness.clock.now_us())))
    lagging.devices()
    harness.clock.advance(2 * 3600)
    lagging.devices()  # its token is fresh by its own clock; refused, it fetches another
    assert [s for m, p, s in seen.seen if p.endswith("/devices")][-2:] == [401, 200]


def test_errors_carry_the_status_and_the_vendors_body(harness: Harness) -> None:
    created = harness.project()
    things = client_of(harness, created)
    with pytest.raises(ApiError) as missing:
        things.device("nothing")
    assert missing.value.status == 404 and missing.value.body["message"] == "Device nothing not found."
    wrong = InstathingsClient("nobody", "wrong", base_url=BASE, http=harness.client)
    with pytest.raises(ApiError) as refused:
        wrong.devices()
    assert refused.value.status == 401


def test_events_arrive_and_come_back_after_the_connection_is_lost(live_server: LiveServer) -> None:
    demo = live_server.demo_credentials()
    link = SilentLink(int(live_server.base.rsplit(":", 1)[1]))
    awt = demo["awt"]
    basic = base64.b64encode(f"{awt['username']}:{awt['password']}".encode()).decode()

    def uplink(n: int) -> None:
        response = httpx.post(
            f"{live_server.base}/awt/v2/ttn-webhook",
            content=ttn_uplink("A0C9B00000794AB5", 1337, 900_000 + n),
            headers={"X-API-KEY": awt["api_key"], "Authorization": f"Basic {basic}"},
        )
        assert response.status_code == 201, response.text

    async def listen() -> list[Event]:
        things = demo["instathings"]
        async with AsyncInstathingsClient(
            things["client_id"], things["client_secret"], base_url=f"http://127.0.0.1:{link.port}/instathings"
        ) as client:
            project = (await client.devices())[0]["projectId"]
            events: AsyncIterator[Event] = client.events(project)
            received = []
            await asyncio.sleep(0)
            first = asyncio.create_task(_next_data(events))
            await asyncio.sleep(0.5)
            await asyncio.to_thread(uplink, 1)
            received.append(await asyncio.wait_for(first, 10))
            link.drop()
            link.restore()  # every connection reset: the client must open another
            second = asyncio.create_task(_next_data(events))
            for n in range(2, 40):  # until the new connection is up and hears one
                await asyncio.to_thread(uplink, n)
                await asyncio.sleep(0.25)
                if second.done():
                    break
            received.append(await asyncio.wait_for(second, 10))
            await events.aclose()  # type: ignore[attr-defined]
            return received

    received = asyncio.run(listen())
    assert [event["action"] for event in received] == ["data", "data"]


async def _next_data(events: AsyncIterator[Event]) -> Event:
    async for event in events:
        if event["action"] == "data":
            return event
    raise AssertionError("the events ended")


def test_events_of_a_project_not_ours_are_refused_with_the_status(live_server: LiveServer) -> None:
    things = live_server.demo_credentials()["instathings"]
    hurried = HubClock(FakeClock(0))  # its waits between attempts take no time

    async def listen() -> None:
        async with AsyncInstathingsClient(
            things["client_id"],
            things["client_secret"],
            base_url=f"{live_server.base}/instathings",
            clock=hurried,
        ) as client:
            async for _ in client.events("not-this-project"):
                pass

    with pytest.raises(ApiError) as refused:
        asyncio.run(asyncio.wait_for(listen(), 30))
    assert refused.value.status == 403
    assert len(hurried.waits) == 2  # a fresh token tried once more, then the refusal is believed
