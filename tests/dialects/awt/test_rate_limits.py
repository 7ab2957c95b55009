"""The seed's fair-usage table, per API key, with shared groups, on a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fieldstation.app import create_app
from fieldstation.assembly import rate_policy
from fieldstation.config import Settings
from fieldstation.core.clock import FakeClock
from fieldstation.core.models import CredentialKind
from fieldstation.core.projects import CreatedProject
from tests.conftest import Harness, basic, token_headers

REJECTED = {"error": "Rate limit reached - request rejected."}


def _limited_after(harness: Harness, headers: dict[str, str], first: str, second: str, interval: int) -> None:
    assert harness.client.get(first, headers=headers).status_code == 200
    rejected = harness.client.get(second, headers=headers)
    assert rejected.status_code == 429
    assert rejected.json() == REJECTED
    assert rejected.headers["Retry-After"] == str(interval)
    harness.clock.advance(interval - 1)
    almost = harness.client.get(second, headers=headers)
    assert almost.status_code == 429
    assert almost.headers["Retry-After"] == "1"
    harness.clock.advance(1)
    assert harness.client.get(second, headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("first", "second", "interval"),
    [
        ("/awt/v2/devices", "/awt/v2/devices", 60),
        ("/awt/v2/data/latest", "/awt/v2/data/latest", 10),
        ("/awt/v2/data", "/awt/v2/data", 30),
        ("/awt/v2/data", "/awt/v2/data/1", 30),
        ("/awt/v2/data/1", "/awt/v2/data", 30),
        ("/awt/v2/data/archive", "/awt/v2/data/archive/1", 30),
        ("/awt/v2/data/archive/1", "/awt/v2/data/archive", 30),
    ],
)
def test_each_group_follows_the_seeds_table(limited: Harness, first: str, second: str, interval: int) -> None:
    created = limited.project()
    limited.device(created.project, 1, "0000000000000001")
    _limited_after(limited, limited.awt(created), first, second, interval)


def test_groups_do_not_share_counters_unless_the_seed_says_so(limited: Harness) -> None:
    created = limited.project()
    headers = limited.awt(created)
    for path in ("/awt/v2/devices", "/awt/v2/data/latest", "/awt/v2/data", "/awt/v2/data/archive"):
        assert limited.client.get(path, headers=headers).status_code == 200, path


def test_token_is_one_per_minute(limited: Harness) -> None:
    created = limited.project()
    assert limited.client.post("/awt/v2/token", headers=token_headers(created)).status_code == 200
    limited.clock.advance(59)
    rejected = limited.client.post("/awt/v2/token", headers=token_headers(created))
    assert rejected.status_code == 429
    assert rejected.json() == REJECTED
    assert rejected.headers["Retry-After"] == "1"
    limited.clock.advance(1)
    assert limited.client.post("/awt/v2/token", headers=token_headers(created)).status_code == 200


def test_a_wrong_password_does_not_spend_the_owners_token_quota(limited: Harness) -> None:
    created = limited.project()
    guess = {**token_headers(created), "Authorization": basic(created.project.name, "guess")}
    for _ in range(3):
        assert limited.client.post("/awt/v2/token", headers=guess).status_code == 401
    assert limited.client.post("/awt/v2/token", headers=token_headers(created)).status_code == 200


def test_limits_are_per_api_key(limited: Harness) -> None:
    created = limited.project()
    second = limited.run(lambda: limited.hub.projects.issue_credential(created.project, CredentialKind.AWT))
    assert limited.client.post("/awt/v2/token", headers=token_headers(created)).status_code == 200
    other = CreatedProject(created.project, {CredentialKind.AWT: second})
    assert limited.client.post("/awt/v2/token", headers=token_headers(other)).status_code == 200


def test_malformed_and_unauthorized_calls_cost_no_quota(limited: Harness) -> None:
    created = limited.project()
    headers = limited.awt(created)
    assert limited.client.get("/awt/v2/data", params={"start": "x"}, headers=headers).status_code == 400
    assert limited.client.get("/awt/v2/data", headers={"X-API-KEY": headers["X-API-KEY"]}).status_code == 401
    assert limited.client.get("/awt/v2/data", headers=headers).status_code == 200


def test_operator_can_relax_a_group(tmp_path: Path) -> None:
    clock = FakeClock()
    settings = Settings(data_dir=tmp_path, demo=False, rate_limits={"awt.data": 0})
    with TestClient(create_app(settings, clock)) as client:
        harness = Harness(client, clock)
        created = harness.project()
        headers = harness.awt(created)
        for _ in range(5):
            assert client.get("/awt/v2/data", headers=headers).status_code == 200
        assert client.get("/awt/v2/devices", headers=headers).status_code == 200
        assert client.get("/awt/v2/devices", headers=headers).status_code == 429


def test_unknown_rate_limit_group_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"awt\.dat"):
        rate_policy(Settings(data_dir=tmp_path, rate_limits={"awt.dat": 0}))
