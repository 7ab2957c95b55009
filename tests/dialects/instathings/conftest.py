from __future__ import annotations

from typing import Any

import pytest

from fieldstation.core.models import CredentialKind
from fieldstation.core.projects import CreatedProject
from tests.conftest import Harness


class Client:
    """An Instathings client of one project, on the in-process hub."""

    def __init__(self, harness: Harness, created: CreatedProject) -> None:
        self.harness = harness
        self.created = created
        self.project_id = created.project.short_id
        issued = created.credentials[CredentialKind.INSTATHINGS]
        self.client_id = issued.credential.username
        self.client_secret = issued.api_key
        self.token = self.new_token()

    def new_token(self) -> str:
        body = {"clientId": self.client_id, "clientSecret": self.client_secret}
        response = self.harness.client.post("/instathings/authentication/v1/oauth/token", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def call(self, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} | kw.pop("headers", {})
        return self.harness.client.request(method, f"/instathings{path}", headers=headers, **kw)

    def device(self, **body: Any) -> dict[str, Any]:
        response = self.call("POST", "/device/v1/devices", json={"name": "device"} | body)
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
def it(harness: Harness) -> Client:
    return Client(harness, harness.project())
