"""The demo project: a plausible week in southern Africa, continued as time passes."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from typing import Any

from fieldstation import demo
from fieldstation.core.projects import CreatedProject
from tests.conftest import Harness


def _demo_project(harness: Harness) -> CreatedProject:
    created = harness.run(lambda: harness.hub.projects.create("demo", auto_register=True, is_demo=True))
    harness.run(lambda: demo.Demo(harness.hub).populate(created.project))
    return created


def _by_tag(readings: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    tags: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for reading in readings:
        tags[reading["tagId"]].append(reading)
    return tags


def _km(a: dict[str, Any], b: dict[str, Any]) -> float:
    dlat = (a["latitude"] - b["latitude"]) * 111.32
    dlon = (a["longitude"] - b["longitude"]) * 111.32 * math.cos(math.radians(a["latitude"]))
    return math.hypot(dlat, dlon)


def test_a_week_of_hourly_fixes_with_a_few_failures(harness: Harness) -> None:
    created = _demo_project(harness)
    readings = harness.client.get("/awt/v2/data/archive", headers=harness.awt(created)).json()
    tags = _by_tag(readings)
    assert sorted(tags) == sorted(a.tag_id for a in demo.ANIMALS)
    for tag, series in tags.items():
        assert 160 <= len(series) <= 169, tag
        good = [r for r in series if "error" not in r]
        assert len(series) - len(good) <= 15, "a few parse failures, not many"
        times = [r["timestamp"] for r in good]
        assert times == sorted(times)
        assert all(3000 < b - a < 10_900 for a, b in itertools.pairwise(times)), "hourly, gaps from failures"
        for a, b in itertools.pairwise(good):
            hours = (b["timestamp"] - a["timestamp"]) / 3600
            assert _km(a, b) / hours < 12, "no animal walks faster than 12 km/h for an hour"
        assert all(-35 < r["latitude"] < -15 and 10 < r["longitude"] < 35 for r in good), "southern Africa"
        assert good[-1]["voltage"] <= good[0]["voltage"], "batteries drain"
    assert sum("error" in r for r in readings) >= 1


def test_catch_up_adds_the_hours_that_passed(harness: Harness) -> None:
    created = _demo_project(harness)
    before = harness.run(lambda: harness.hub.store.commit_horizon(created.project.id))
    assert harness.run(lambda: demo.Demo(harness.hub).catch_up(created.project)) == 0
    harness.clock.advance(3 * 3600)
    added = harness.run(lambda: demo.Demo(harness.hub).catch_up(created.project))
    assert added == 3 * len(demo.ANIMALS)
    assert harness.run(lambda: harness.hub.store.commit_horizon(created.project.id)) == before + added


def test_latest_data_has_the_last_day(harness: Harness) -> None:
    created = _demo_project(harness)
    latest = harness.client.get("/awt/v2/data/latest", headers=harness.awt(created)).json()
    assert 5 * 23 <= len(latest) <= 5 * 25
