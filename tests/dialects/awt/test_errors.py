"""Errors in AWT's own format: status codes and bodies from the seed, never a framework default."""

from __future__ import annotations

import pytest

from tests.conftest import Harness

MALFORMED = "Malformed request. Please check your parameters are correct."


@pytest.mark.parametrize(
    ("path", "params", "names"),
    [
        ("/awt/v2/data", {"start": "yesterday"}, "start"),
        ("/awt/v2/data", {"end": "1.5"}, "end"),
        ("/awt/v2/data", {"offset": "-1"}, "offset"),
        ("/awt/v2/data", {"start": "-5"}, "start"),
        ("/awt/v2/data", {"offset": "99999999999999999999999"}, "offset"),
        ("/awt/v2/data/archive", {"start": "2021-01-01"}, "start"),
        ("/awt/v2/data/archive/1", {"end": "x"}, "end"),
        ("/awt/v2/data/abc", {}, "tagId"),
        ("/awt/v2/data/archive/1.5", {}, "tagId"),
        ("/awt/v2/data/-3", {}, "tagId"),
    ],
)
def test_malformed_parameters_are_400_naming_the_parameter(
    harness: Harness, path: str, params: dict[str, str], names: str
) -> None:
    created = harness.project()
    harness.device(created.project, 1, "0000000000000001")
    response = harness.client.get(path, params=params, headers=harness.awt(created))
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["error"]
    assert body["error"].startswith(MALFORMED)
    assert names in body["error"]


def test_unknown_path_is_404_in_awt_format(harness: Harness) -> None:
    response = harness.client.get("/awt/v2/nothing-here")
    assert response.status_code == 404
    assert list(response.json()) == ["error"]


def test_wrong_method_is_405_in_awt_format(harness: Harness) -> None:
    for method, path in (("GET", "/awt/v2/token"), ("POST", "/awt/v2/devices"), ("DELETE", "/awt/v2/data")):
        response = harness.client.request(method, path)
        assert response.status_code == 405, path
        assert list(response.json()) == ["error"]


def test_server_fault_is_500_in_awt_format(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    created = harness.project()
    headers = harness.awt(created)

    async def broken(*_: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(harness.hub.store, "devices", broken)
    response = harness.client.get("/awt/v2/devices", headers=headers)
    assert response.status_code == 500
    assert response.json() == {
        "error": "Something went wrong on our end. Try again later or contact support."
    }


def test_bad_requests_change_nothing(harness: Harness) -> None:
    """A rejected call does not move the /data/latest cursor."""
    created = harness.project()
    device = harness.device(created.project, 1, "0000000000000001")
    harness.fix(device, 1_790_000_000)
    headers = harness.awt(created)
    assert (
        harness.client.get("/awt/v2/data/latest", headers={"X-API-KEY": headers["X-API-KEY"]}).status_code
        == 401
    )
    assert len(harness.client.get("/awt/v2/data/latest", headers=headers).json()) == 1


def test_an_unreachable_store_is_503_in_awts_shape(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from fieldstation.store.database import connect

    created = harness.project()
    headers = harness.awt(created)  # key and project are remembered now
    monkeypatch.setattr(harness.hub.store, "engine", connect("sqlite+aiosqlite:////proc/no/such.db"))
    response = harness.client.get("/awt/v2/devices", headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.json() == {
        "error": "Service unavailable: the data store cannot be reached. Try again later."
    }
