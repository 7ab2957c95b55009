"""POST /token: API key plus Basic credentials in, a one-hour JWT out."""

from __future__ import annotations

import jwt

from fieldstation.core.models import CredentialKind
from tests.conftest import START_S, Harness, basic, token_headers

BAD_KEY = {"error": "Unauthorized. Invalid API key or credentials."}
BAD_TOKEN = {"error": "Unauthorized. Token invalid. Please refresh token."}


def test_token_answers_the_seeds_shape(harness: Harness) -> None:
    created = harness.project()
    response = harness.client.post("/awt/v2/token", headers=token_headers(created))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["token", "expires_in", "token_type"]
    assert body["expires_in"] == "1h"
    assert body["token_type"] == "Bearer"
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["iat"] == START_S


def test_wrong_password_wrong_user_and_unknown_key_are_401(harness: Harness) -> None:
    created = harness.project()
    key = created.credentials[CredentialKind.AWT].api_key
    password = created.credentials[CredentialKind.AWT].password
    assert password is not None
    for headers in (
        {"X-API-KEY": key, "Authorization": basic("field", "wrong")},
        {"X-API-KEY": key, "Authorization": basic("someone", password)},
        {"X-API-KEY": "not-a-key", "Authorization": basic("field", password)},
        {"Authorization": basic("field", password)},
        {"X-API-KEY": key},
        {"X-API-KEY": key, "Authorization": "Basic %%%"},
        {"X-API-KEY": key, "Authorization": "Bearer abc"},
    ):
        response = harness.client.post("/awt/v2/token", headers=headers)
        assert response.status_code == 401, headers
        assert response.json() == BAD_KEY


def test_token_is_valid_for_one_hour_exactly(harness: Harness) -> None:
    created = harness.project()
    headers = harness.awt(created)
    harness.clock.advance(3599)
    assert harness.client.get("/awt/v2/devices", headers=headers).status_code == 200
    harness.clock.advance(1)
    response = harness.client.get("/awt/v2/devices", headers=headers)
    assert response.status_code == 401
    assert response.json() == BAD_TOKEN


def test_a_token_works_only_with_the_key_it_was_issued_for(harness: Harness) -> None:
    first = harness.project("first")
    second = harness.project("second")
    token = harness.awt(first)["Authorization"]
    other_key = second.credentials[CredentialKind.AWT].api_key
    response = harness.client.get("/awt/v2/devices", headers={"X-API-KEY": other_key, "Authorization": token})
    assert response.status_code == 401
    assert response.json() == BAD_TOKEN


def test_data_calls_need_both_key_and_token(harness: Harness) -> None:
    created = harness.project()
    headers = harness.awt(created)
    for path in ("/devices", "/data/latest", "/data", "/data/1", "/data/archive", "/data/archive/1"):
        no_key = harness.client.get(f"/awt/v2{path}", headers={"Authorization": headers["Authorization"]})
        assert no_key.status_code == 401 and no_key.json() == BAD_KEY, path
        no_token = harness.client.get(f"/awt/v2{path}", headers={"X-API-KEY": headers["X-API-KEY"]})
        assert no_token.status_code == 401 and no_token.json() == BAD_TOKEN, path
        forged = harness.client.get(
            f"/awt/v2{path}",
            headers={"X-API-KEY": headers["X-API-KEY"], "Authorization": "Bearer e30.e30.e30"},
        )
        assert forged.status_code == 401 and forged.json() == BAD_TOKEN, path


def test_a_token_signed_with_another_secret_is_refused(harness: Harness) -> None:
    created = harness.project()
    headers = harness.awt(created)
    claims = jwt.decode(headers["Authorization"].split()[1], options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-hubs-secret-but-long-enough-for-hs256", algorithm="HS256")
    response = harness.client.get(
        "/awt/v2/devices", headers={"X-API-KEY": headers["X-API-KEY"], "Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401
    assert response.json() == BAD_TOKEN
