"""`AwtClient` and `AsyncAwtClient` against a live hub, on the hub's clock: tokens, the seed's limits kept up
front (no 429 ever), a 429 waited out, pages to the end, errors with the vendor's body."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from fieldstation.client import ApiError, AsyncAwtClient, AwtClient, GaveUp, UnexpectedAnswer
from fieldstation.client import awt as awt_client
from fieldstation.client.exchange import RepeatedPage, retry_after_s
from fieldstation.codecs import awt_frame
from fieldstation.core.clock import MICROS, FakeClock
from fieldstation.core.models import CredentialKind, NewUplink
from fieldstation.core.projects import CreatedProject
from fieldstation.dialects.awt import errors as awt_errors
from fieldstation.dialects.awt.rate_limits import RATE_POLICY
from tests.client.conftest import Exchanges, HubClock
from tests.conftest import Harness, LiveServer

BASE = "http://testserver/awt/v2"


def client_of(
    harness: Harness, created: CreatedProject, clock: HubClock | None = None, polite: bool = True
) -> AwtClient:
    awt = created.credentials[CredentialKind.AWT]
    assert awt.credential.username is not None and awt.password is not None
    return AwtClient(
        awt.api_key, awt.credential.username, awt.password, base_url=BASE, http=harness.client,
        clock=clock or HubClock(harness.clock), polite=polite,
    )  # fmt: skip


def readings(harness: Harness, created: CreatedProject, count: int, tag_id: int = 1337) -> None:
    device = harness.device(created.project, tag_id, f"A0C9B00000{tag_id:06X}")
    start = harness.clock.now_us() // MICROS - count
    uplinks = [
        NewUplink(
            source="test",
            payload=awt_frame.encode(
                tag_id=tag_id, fix_time=start + n, latitude=-24, longitude=31, voltage=3.8
            ),
            received_us=harness.clock.now_us(),
            eui=device.eui,
            f_cnt=n,
        )
        for n in range(count)
    ]
    harness.run(lambda: harness.hub.ingestor.ingest(device, uplinks))


def test_the_clients_limits_are_the_seeds() -> None:
    assert {f"awt.{group}": seconds for group, seconds in awt_client.RATE_LIMITS_S.items()} == RATE_POLICY


def test_a_polite_client_never_meets_a_429(limited: Harness, exchanges: Exchanges) -> None:
    created = limited.project()
    readings(limited, created, 5)
    clock = HubClock(limited.clock)
    awt = client_of(limited, created, clock=clock)
    assert [t["tag_id"] for t in awt.devices()] == ["1337"]
    assert len(awt.data()) == 5
    assert len(awt.data("1337")) == 5  # shares /data's counter: waits 30 s
    assert len(awt.archive(start=0)) == 5
    assert len(awt.latest()) == 5
    assert awt.latest() == []  # waits 10 s
    assert [t["tag_id"] for t in awt.devices()] == ["1337"]  # waits the rest of its minute
    assert exchanges.statuses() == {200: 8}
    assert exchanges.calls("POST", "/awt/v2/token") == 1
    assert len(clock.waits) == 3 and all(w > 0 for w in clock.waits)


def test_pages_are_read_to_the_end(limited: Harness, exchanges: Exchanges) -> None:
    created = limited.project()
    readings(limited, created, 2_500)
    awt = client_of(limited, created)
    pages = list(awt.data_pages())
    assert [len(p) for p in pages] == [1_000, 1_000, 500]
    assert len({r["recordId"] for page in pages for r in page}) == 2_500
    assert exchanges.statuses() == {200: 4}


def test_a_token_is_replaced_before_its_hour_is_up(limited: Harness, exchanges: Exchanges) -> None:
    created = limited.project()
    awt = client_of(limited, created)
    awt.devices()
    limited.clock.advance(50 * 60)
    awt.devices()
    assert exchanges.calls("POST", "/awt/v2/token") == 1
    limited.clock.advance(6 * 60)  # 56 minutes: less than five left
    awt.devices()
    assert exchanges.calls("POST", "/awt/v2/token") == 2
    assert exchanges.statuses() == {200: 5}


def test_a_token_refused_is_replaced_once(limited: Harness, exchanges: Exchanges) -> None:
    created = limited.project()
    client_clock = HubClock(FakeClock(limited.clock.now_us()))  # a clock of its own, which the hub's leaves
    awt = client_of(limited, created, clock=client_clock)
    awt.devices()
    limited.clock.advance(2 * 3600)
    awt.devices()  # a token the client holds fresh; the hub refuses it, and the client fetches another
    assert [s for _, _, s in exchanges.seen] == [200, 200, 401, 200, 200]


def test_an_impolite_client_waits_out_a_429(limited: Harness, exchanges: Exchanges) -> None:
    created = limited.project()
    clock = HubClock(limited.clock)
    awt = client_of(limited, created, clock=clock, polite=False)
    said: list[tuple[str, str]] = []
    awt.policy.on_wait = lambda call, seconds, why: said.append((call.path, why))
    awt.data()
    awt.data()
    assert [s for _, _, s in exchanges.seen] == [200, 200, 429, 200]
    assert clock.waits == [pytest.approx(30.25)]
    assert said == [("/data", "the API answered 429")]


def test_errors_carry_the_status_and_the_vendors_body(limited: Harness) -> None:
    created = limited.project()
    awt = client_of(limited, created)
    with pytest.raises(ApiError) as missing:
        awt.data("4242")
    assert missing.value.status == 404
    assert missing.value.body == {"error": awt_errors.TAG_NOT_FOUND}
    key = created.credentials[CredentialKind.AWT]
    wrong = AwtClient(
        key.api_key, "nobody", "wrong", base_url=BASE, http=limited.client, clock=HubClock(limited.clock)
    )
    with pytest.raises(ApiError) as refused:
        wrong.devices()
    assert refused.value.status == 401
    assert refused.value.body == {"error": awt_errors.BAD_KEY}


def test_a_client_gives_up_after_waiting_five_times() -> None:
    def always_busy(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"token": "t", "expires_in": "1h", "token_type": "Bearer"})
        return httpx.Response(
            429, json={"error": "Rate limit reached - request rejected."}, headers={"Retry-After": "3"}
        )

    clock = HubClock(FakeClock(0))
    awt = AwtClient("k", "u", "p", http=httpx.Client(transport=httpx.MockTransport(always_busy)), clock=clock)
    with pytest.raises(GaveUp):
        awt.devices()
    assert sum(w == pytest.approx(3.25) for w in clock.waits) == 5  # beside the minute /devices is paced by


def test_the_async_client_over_http(live_server: LiveServer) -> None:
    """A real server process, a key of its own (so no other test has spent its limits)."""
    issued = live_server.cli("credential", "create", "--project", "demo", "--kind", "awt")

    async def read() -> tuple[list[awt_client.Tag], list[awt_client.Reading], list[awt_client.Reading]]:
        async with AsyncAwtClient(
            issued["api_key"], issued["username"], issued["password"], base_url=f"{live_server.base}/awt/v2"
        ) as awt:
            tags = await awt.devices()
            archive = [r async for page in awt.archive_pages() for r in page]
            latest = await awt.latest()
            return tags, archive, latest

    tags, archive, latest = asyncio.run(read())
    assert len(tags) == 5
    assert {r["tagId"] for r in archive} == {int(t["tag_id"]) for t in tags}
    assert {r["recordId"] for r in latest} <= {r["recordId"] for r in archive} | {
        r["recordId"] for r in latest
    }
    assert len(archive) > 500


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>proxy login</html>", "not JSON"),
        (b'{"data": []}', "not a list of objects"),
        (b"[1, 2]", "not a list"),
    ],
)
def test_a_success_that_is_not_what_the_api_documents(body: bytes, expected: str) -> None:
    """A proxy's page or another kind of server at the URL: a clear error, not a crash further on."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"token": "t", "expires_in": "1h", "token_type": "Bearer"})
        return httpx.Response(200, content=body)

    awt = AwtClient(
        "k", "u", "p", http=httpx.Client(transport=httpx.MockTransport(answer)), clock=HubClock(FakeClock(0))
    )
    with pytest.raises(UnexpectedAnswer, match=expected):
        list(awt.archive_pages())


def test_a_server_that_does_not_page_is_not_read_forever() -> None:
    page = [{"recordId": str(n), "tagId": 1} for n in range(1_000)]

    def same_page(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"token": "t", "expires_in": "1h", "token_type": "Bearer"})
        return httpx.Response(200, json=page)  # whatever the offset

    awt = AwtClient(
        "k", "u", "p", http=httpx.Client(transport=httpx.MockTransport(same_page)), clock=HubClock(FakeClock(0)),
        polite=False,
    )  # fmt: skip
    pages = awt.data_pages()
    assert len(next(pages)) == 1_000
    with pytest.raises(RepeatedPage):
        next(pages)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "30"}, b"", 30.0),
        ({"Retry-After": "99999999999"}, b"", 1.0),  # not a wait anyone means: the default
        ({"Retry-After": "86400"}, b"", 3_600.0),
        ({}, b'{"retryAfter": 900}', 900.0),
        ({}, b'{"retryAfter": 1e300}', 3_600.0),
        ({}, b'{"retryAfter": true}', 1.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, b"", 1.0),
    ],
)
def test_a_wait_asked_for_is_bounded(headers: dict[str, str], body: bytes, expected: float) -> None:
    response = httpx.Response(429, headers=headers, content=body, request=httpx.Request("GET", "http://x/"))
    assert retry_after_s(response) == expected


@pytest.mark.parametrize(
    ("expires_in", "seconds"),
    [
        ("1h", 3_600),
        ("30m", 1_800),
        (900, 900),
        ("9" * 400, 3_600),
        (1e300, 86_400),
        (0, 60),
        ("soon", 3_600),
    ],
)
def test_a_tokens_life_is_read_within_bounds(expires_in: object, seconds: float) -> None:
    assert awt_client.token_life_s(expires_in) == seconds
