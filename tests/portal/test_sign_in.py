"""Operators sign in to the portal: a browser at the hub's root is sent there, sessions are cookies that
scripts cannot read, every form carries a token, guessing is throttled before argon2, and signing out or a
new password ends sessions."""

from __future__ import annotations

from tests.conftest import Harness
from tests.portal.conftest import form_token, operator, sign_in


def test_a_browser_at_the_root_goes_to_the_portal_and_a_json_client_gets_the_index(harness: Harness) -> None:
    browser = harness.client.get("/", headers={"Accept": "text/html,*/*"}, follow_redirects=False)
    assert (browser.status_code, browser.headers["location"]) == (303, "/portal/")
    client = harness.client.get("/")
    assert client.status_code == 200
    assert client.json()["name"] == "fieldstation"


def test_pages_ask_for_a_sign_in_first(harness: Harness) -> None:
    page = harness.client.get("/portal/", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/portal/sign-in?next=/portal/")
    assert harness.client.get("/portal/projects/x/tracks.json").status_code == 401


def test_the_session_cookie_is_http_only_and_same_site(harness: Harness) -> None:
    secret = operator(harness, "ranger", admin=True)
    page = harness.client.get("/portal/sign-in")
    response = harness.client.post(
        "/portal/sign-in",
        data={"csrf": form_token(page.text), "username": "ranger", "password": secret, "next": "/portal/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "session" in v)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/portal" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS it is set (tests/portal/test_security.py)
    home = harness.client.get("/portal/")
    assert home.status_code == 200 and "ranger" in home.text
    assert "default-src 'self'" in home.headers["content-security-policy"]


def test_a_wrong_password_or_username_is_refused_alike(harness: Harness) -> None:
    operator(harness, "ranger")
    for username, password in (("ranger", "not-the-password"), ("nobody", "not-the-password")):
        page = harness.client.get("/portal/sign-in")
        response = harness.client.post(
            "/portal/sign-in",
            data={"csrf": form_token(page.text), "username": username, "password": password},
        )
        assert response.status_code == 401
        assert "Wrong username or password." in response.text
    assert harness.client.get("/portal/", follow_redirects=False).status_code == 303


def test_a_sign_in_without_the_forms_token_is_refused(harness: Harness) -> None:
    secret = operator(harness, "ranger")
    harness.client.get("/portal/sign-in")  # the cookie half of the token, but not the form's
    response = harness.client.post("/portal/sign-in", data={"username": "ranger", "password": secret})
    assert response.status_code == 403
    assert harness.client.get("/portal/", follow_redirects=False).status_code == 303


def test_a_sign_in_without_the_cookie_is_refused_whatever_its_form_says(harness: Harness) -> None:
    """The double-submit check must not pass for a client with no sign-in cookie at all (a login CSRF from
    a client that sends no Origin): an empty or placeholder token is no token."""
    secret = operator(harness, "ranger")
    for csrf in ("-", ""):
        harness.client.cookies.clear()
        response = harness.client.post(
            "/portal/sign-in",
            data={"csrf": csrf, "username": "ranger", "password": secret},
            follow_redirects=False,
        )
        assert response.status_code == 403, csrf
        assert "fieldstation_session" not in response.cookies


def test_guessing_is_throttled_before_the_password_is_checked(harness: Harness) -> None:
    secret = operator(harness, "ranger")
    page = harness.client.get("/portal/sign-in")
    token = form_token(page.text)
    statuses = [
        harness.client.post(
            "/portal/sign-in", data={"csrf": token, "username": "ranger", "password": f"guess-{n}"}
        ).status_code
        for n in range(12)
    ]
    assert statuses == [401] * 10 + [429] * 2
    # The right password is refused too while throttled: the limit is checked before argon2 runs.
    refused = harness.client.post(
        "/portal/sign-in", data={"csrf": token, "username": "ranger", "password": secret}
    )
    assert refused.status_code == 429 and refused.headers["retry-after"] == "6"
    harness.clock.advance(6.0)
    assert sign_in(harness.client, "ranger", secret)


def test_signing_out_ends_the_session(harness: Harness) -> None:
    secret = operator(harness, "ranger")
    csrf = sign_in(harness.client, "ranger", secret)
    cookie = harness.client.cookies.get("fieldstation_session")
    response = harness.client.post("/portal/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert response.headers["location"] == "/portal/sign-in"
    # The old cookie no longer opens anything, even if kept.
    harness.client.cookies.set("fieldstation_session", str(cookie), path="/portal")
    assert harness.client.get("/portal/", follow_redirects=False).status_code == 303


def test_a_new_password_and_time_end_sessions(harness: Harness) -> None:
    secret = operator(harness, "ranger")
    sign_in(harness.client, "ranger", secret)
    harness.run(lambda: harness.hub.operators.set_password("ranger"))
    assert harness.client.get("/portal/", follow_redirects=False).status_code == 303

    secret = harness.run(lambda: harness.hub.operators.set_password("ranger", "a-new-long-password"))
    sign_in(harness.client, "ranger", secret)
    assert harness.client.get("/portal/").status_code == 200
    harness.clock.advance(12 * 3600 + 1)
    assert harness.client.get("/portal/", follow_redirects=False).status_code == 303


def test_after_sign_in_only_portal_paths_are_followed(harness: Harness) -> None:
    secret = operator(harness, "ranger")
    page = harness.client.get("/portal/sign-in")
    for wanted, landed in (
        ("https://evil.example/", "/portal/"),
        ("//evil.example/portal/", "/portal/"),
        ("/portal/projects/x/", "/portal/projects/x/"),
    ):
        response = harness.client.post(
            "/portal/sign-in",
            data={"csrf": form_token(page.text), "username": "ranger", "password": secret, "next": wanted},
            follow_redirects=False,
        )
        assert response.headers["location"] == landed
