"""The group commit mixes projects in one batch and never their outcomes: concurrent submissions from
several projects, with repeats, colliding outside ids and items the store cannot take, each get their own
right answer, and the rows are exactly what was acknowledged."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from starlette.testclient import TestClient

from fieldstation.app import create_app
from fieldstation.config import Settings
from fieldstation.core.clock import MICROS, FakeClock
from fieldstation.core.errors import StoreUnavailable
from fieldstation.core.events import EventBatch
from fieldstation.core.models import Device, NewDevice, NewUplink, Project
from fieldstation.core.ports import StoredReading
from tests.conftest import NO_RATE_LIMITS, START_S, Harness
from tests.services import postgres_server

PROJECTS = 3
names = itertools.count()


@dataclass(frozen=True)
class Submission:
    project: int
    """Index into the projects of the example."""
    message: int
    """Which outside id (an Astrocast messageGuid): equal numbers collide, within and across projects."""
    bad: bool
    """An item the store cannot hold (a frame counter past 64 bits, as no parser lets through any more)."""


SUBMISSIONS = st.lists(
    st.builds(
        Submission,
        project=st.integers(0, PROJECTS - 1),
        message=st.integers(0, 5),
        bad=st.sampled_from([False, False, False, True]),
    ),
    min_size=1,
    max_size=40,
)


def guid(message: int) -> str:
    return f"00000000-0000-4000-8000-{message:012d}"


def uplink(submission: Submission) -> NewUplink:
    return NewUplink(
        source="astrocast",
        payload=f"message {submission.message}".encode(),
        received_us=1_790_000_000_000_000,
        f_cnt=2**70 if submission.bad else None,
        uid=guid(submission.message),
    )


async def _submit_all(
    harness: Harness, devices: list[Device], submissions: list[Submission]
) -> list[StoredReading | BaseException]:
    calls = [harness.hub.ingestor.submit(devices[s.project], uplink(s)) for s in submissions]
    return await asyncio.gather(*calls, return_exceptions=True)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(submissions=SUBMISSIONS)
def test_concurrent_submissions_of_several_projects(harness: Harness, submissions: list[Submission]) -> None:
    _check_concurrent_submissions(harness, submissions)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_harness(tmp_path: Path, postgres_url: str) -> Iterator[Harness]:
    clock = FakeClock(START_S * MICROS)
    settings = Settings(data_dir=tmp_path, demo=False, rate_limits=NO_RATE_LIMITS, database_url=postgres_url)
    with TestClient(create_app(settings, clock), raise_server_exceptions=False) as client:
        yield Harness(client, clock)


@pytest.mark.postgres
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(submissions=SUBMISSIONS)
def test_concurrent_submissions_of_several_projects_on_postgres(
    postgres_harness: Harness, submissions: list[Submission]
) -> None:
    """On PostgreSQL a value the store cannot hold is refused by the driver, not by SQLite: it must still
    fail alone, not as a store that cannot be reached."""
    _check_concurrent_submissions(postgres_harness, submissions)


def _check_concurrent_submissions(harness: Harness, submissions: list[Submission]) -> None:
    projects: list[Project] = []
    devices: list[Device] = []
    for _ in range(PROJECTS):
        project = harness.project(f"p{next(names)}").project
        projects.append(project)
        devices.append(
            harness.run(
                lambda p=project: harness.hub.devices.add(  # type: ignore[misc]
                    p, NewDevice(name="modem", device_type="Astronode", codec="passthrough")
                )
            )
        )

    answers = harness.run(lambda: _submit_all(harness, devices, submissions))

    first_good: dict[tuple[int, int], int] = {}
    for index, (submission, answer) in enumerate(zip(submissions, answers, strict=True)):
        key = (submission.project, submission.message)
        if submission.bad and key not in first_good:
            # Only the bad item itself fails; it cannot be stored, so it fails alone.
            assert isinstance(answer, BaseException), (submission, answer)
            assert not isinstance(answer, StoreUnavailable), (submission, answer)
            continue
        if submission.bad and isinstance(answer, BaseException):
            continue  # a bad repeat of a stored message: refused, or recognised as the repeat it is
        assert isinstance(answer, StoredReading), (submission, answer)
        assert answer.uid == guid(submission.message)  # the outside id is the reading's id, per project
        if key in first_good:
            assert answer.duplicate, (index, submission)
        else:
            first_good[key] = index
            assert not answer.duplicate, (index, submission)

    for position, project in enumerate(projects):
        stored = harness.run(lambda p=project: _stored_uids(harness, p.id))  # type: ignore[misc]
        assert stored == sorted(guid(message) for p, message in first_good if p == position)


async def _stored_uids(harness: Harness, project_id: int) -> list[str]:
    engine = harness.hub.store.engine  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT r.uid FROM readings r JOIN uplinks u ON u.id = r.uplink_id "
                "WHERE r.project_id = :project ORDER BY r.uid"
            ),
            {"project": project_id},
        )
        return [row[0] for row in rows]


def test_a_bad_item_fails_alone_and_the_rest_of_its_batch_is_stored(harness: Harness) -> None:
    project = harness.project().project
    device = harness.run(
        lambda: harness.hub.devices.add(
            project, NewDevice(name="modem", device_type="Astronode", codec="passthrough")
        )
    )
    batch = [Submission(0, message, bad=(message == 3)) for message in range(6)]
    answers: list[Any] = harness.run(lambda: _submit_all(harness, [device], batch))
    assert [isinstance(a, BaseException) for a in answers] == [False, False, False, True, False, False]


@pytest.mark.parametrize("projects", [2])
def test_the_same_callback_to_two_projects_is_stored_in_both(harness: Harness, projects: int) -> None:
    owners = [harness.project(f"twin{n}").project for n in range(projects)]
    devices = [
        harness.run(
            lambda p=p: harness.hub.devices.add(  # type: ignore[misc]
                p, NewDevice(name="modem", guid="c984ff2b-e4d0-417f-8ea3-11d74a55d251", codec="passthrough")
            )
        )
        for p in owners
    ]
    twice = [Submission(n, 7, bad=False) for n in range(projects)] * 2
    answers = harness.run(lambda: _submit_all(harness, devices, twice))
    assert [a.duplicate for a in answers] == [False] * projects + [True] * projects  # type: ignore[union-attr]
    assert {a.uid for a in answers} == {guid(7)}  # type: ignore[union-attr]


def test_what_follows_a_commit_never_stops_the_writer(harness: Harness) -> None:
    """A payload may claim any software version; one the device row cannot hold is ignored, and nothing
    after a commit can stop the writer that every project's uplinks go through."""
    project = harness.project().project
    bridge = harness.run(
        lambda: harness.hub.devices.add(
            project, NewDevice(name="bridge", eui="00000000000000B1", codec="json")
        )
    )
    huge = NewUplink(source="test", payload=b'{"software_version": 18446744073709551615}', received_us=1)
    normal = NewUplink(source="test", payload=b'{"software_version": 3}', received_us=2)

    async def both() -> list[Any]:
        first = await harness.hub.ingestor.submit(bridge, huge)
        second = await asyncio.wait_for(harness.hub.ingestor.submit(bridge, normal), timeout=5)
        return [first, second]

    first, second = harness.run(both)
    assert not first.duplicate and not second.duplicate
    [device] = harness.run(lambda: harness.hub.devices.list(project))
    assert device.software_version == 3


def test_a_cancelled_submitter_costs_the_rest_of_its_batch_nothing(harness: Harness) -> None:
    """A batch has one future for all its submitters: cancelling one of them must not cancel it for the
    others. The cancelled one's uplink is written all the same (it was already in the batch)."""
    project = harness.project().project
    device = harness.run(
        lambda: harness.hub.devices.add(
            project, NewDevice(name="modem", device_type="Astronode", codec="passthrough")
        )
    )

    async def cancel_one() -> list[Any]:
        tasks = [
            asyncio.ensure_future(harness.hub.ingestor.submit(device, uplink(Submission(0, message, False))))
            for message in range(3)
        ]
        await asyncio.sleep(0)  # all three are in the batch being filled
        tasks[1].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    answers = harness.run(cancel_one)
    assert isinstance(answers[1], asyncio.CancelledError)
    assert [a.uid for a in (answers[0], answers[2])] == [guid(0), guid(2)]
    assert harness.run(lambda: _stored_uids(harness, project.id)) == [guid(0), guid(1), guid(2)]


def test_submitters_hear_of_their_commit_before_live_subscribers(harness: Harness) -> None:
    """A batch's submitters (whose 201s are then written) come before its events to live subscribers: a
    hundred subscribers' sends must not hold up the answers to the uplinks (bench.realtime)."""
    project = harness.project().project
    device = harness.run(
        lambda: harness.hub.devices.add(project, NewDevice(name="modem", codec="passthrough"))
    )
    order: list[str] = []

    async def submit(n: int) -> None:
        await harness.hub.ingestor.submit(device, NewUplink(source="test", payload=b"%d" % n, received_us=n))
        order.append("answered")

    def taken(batch: EventBatch) -> bool:
        order.append(f"{len(batch)} events")
        return True

    async def scenario() -> None:
        with harness.hub.events.subscribe(project.id) as subscription:
            subscription.hand_to(taken)
            await asyncio.gather(*(submit(n) for n in range(5)))
            for _ in range(3):  # the events follow two turns of the event loop's queue on
                await asyncio.sleep(0)

    harness.run(scenario)
    assert order == ["answered"] * 5 + ["5 events"]
