"""Signing in to the portal of an in-process hub, as a browser does: the form's token, then the cookie."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from tests.conftest import Harness

TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


def form_token(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def operator(harness: Harness, username: str, *, admin: bool = False, projects: tuple[str, ...] = ()) -> str:
    """Create an operator; its password."""
    _, secret = harness.run(lambda: harness.hub.operators.create(username, admin=admin, projects=projects))
    return secret


def sign_in(client: TestClient, username: str, password: str) -> str:
    """Sign in; the session's CSRF token (from the next page's forms)."""
    page = client.get("/portal/sign-in")
    response = client.post(
        "/portal/sign-in",
        data={"csrf": form_token(page.text), "username": username, "password": password, "next": "/portal/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return form_token(client.get("/portal/").text)
