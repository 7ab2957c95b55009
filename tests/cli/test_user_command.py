"""`fieldstation user`: operator accounts of the portal, scripted; and the admin a new hub makes and prints."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.cli.test_cli import as_json, fieldstation
from tests.conftest import LiveServer
from tests.portal.conftest import form_token


def signs_in(server: LiveServer, username: str, password: str) -> bool:
    with httpx.Client(base_url=server.base) as browser:
        page = browser.get("/portal/sign-in")
        response = browser.post(
            "/portal/sign-in",
            data={"csrf": form_token(page.text), "username": username, "password": password},
        )
        return response.status_code == 303


def test_a_new_hub_makes_an_admin_and_prints_its_password(live_server: LiveServer) -> None:
    portal = live_server.demo_credentials()["portal"]
    assert portal["username"] == "admin"
    log = next(live_server.data_dir.parent.glob("server-*.log")).read_text()
    assert portal["password"] in log  # printed beside the demo credentials
    assert signs_in(live_server, "admin", portal["password"])
    assert not signs_in(live_server, "admin", portal["password"] + "x")


def test_create_list_grant_passwd_remove(tmp_path: Path) -> None:
    fieldstation(tmp_path, "project", "create", "kruger")
    fieldstation(tmp_path, "project", "create", "etosha")
    made = as_json(tmp_path, "user", "create", "ranger", "--project", "kruger")
    assert made["projects"] == ["kruger"] and made["admin"] is False and len(made["password"]) >= 20
    admin = as_json(tmp_path, "user", "create", "chief", "--admin")
    assert admin["projects"] == "all"
    fieldstation(tmp_path, "user", "grant", "ranger", "--project", "etosha")
    listed = {row["username"]: row for row in as_json(tmp_path, "user", "list")}
    assert listed["ranger"]["projects"] == ["etosha", "kruger"]
    fieldstation(tmp_path, "user", "revoke", "ranger", "--project", "kruger")
    assert as_json(tmp_path, "user", "list")[1]["projects"] == ["etosha"]
    changed = fieldstation(tmp_path, "user", "passwd", "ranger")
    assert "New password (shown once)" in changed.stdout
    fieldstation(tmp_path, "user", "remove", "ranger")
    assert [row["username"] for row in as_json(tmp_path, "user", "list")] == ["chief"]


def test_a_password_from_standard_input(tmp_path: Path) -> None:
    made = fieldstation(
        tmp_path, "user", "create", "ranger", "--password-stdin", "--json", stdin="a-long-enough-password\n"
    )
    assert "password" not in json.loads(made.stdout)
    short = fieldstation(
        tmp_path, "user", "passwd", "ranger", "--password-stdin", stdin="short\n", check=False
    )
    assert short.returncode == 2 and "10 to 256 characters" in short.stderr


def test_mistakes_say_what_to_do(tmp_path: Path) -> None:
    unknown = fieldstation(tmp_path, "user", "create", "ranger", "--project", "nowhere", check=False)
    assert unknown.returncode == 2 and "`fieldstation project list`" in unknown.stderr
    fieldstation(tmp_path, "user", "create", "ranger")
    again = fieldstation(tmp_path, "user", "create", "ranger", check=False)
    assert again.returncode == 2 and "already an operator named 'ranger'" in again.stderr
    bad = fieldstation(tmp_path, "user", "create", "no spaces please", check=False)
    assert bad.returncode == 2 and "is not valid" in bad.stderr
    gone = fieldstation(tmp_path, "user", "remove", "nobody", check=False)
    assert gone.returncode == 2 and "`fieldstation user list`" in gone.stderr
