"""Each dialect's `openapi.json` says how to authenticate and what its errors look like: security schemes
for every operation (the key header, Basic, Bearer, OAuth 2 client credentials), the 400 and 401 of the
dialect's own error shape with examples that fit it, and nothing of FastAPI's 422 that no dialect sends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fieldstation.dialects.instathings.examples import SEED_EXAMPLES
from tests.conftest import Harness
from tests.dialects.instathings.conftest import Client

SCHEMES = {
    "/awt/v2": {"ApiKey", "Basic", "Bearer"},
    "/astrocast/v1": {"ApiKey", "CallbackSecret"},
    "/instathings": {"OAuth2"},
}
PUBLIC = {("/instathings", "/authentication/v1/oauth/token")}
UNAUTHENTICATED = {"/awt/v2": "/devices", "/astrocast/v1": "/devices", "/instathings": "/device/v1/devices"}


TYPES = {"string": str, "integer": int}


def _fits(body: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An error body against its schema: an object of the required fields, each of its declared type."""
    properties = schema["properties"]
    return set(schema["required"]) <= set(body) <= set(properties) and all(
        isinstance(value, TYPES[properties[name]["type"]]) for name, value in body.items()
    )


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


@pytest.mark.parametrize("mount", list(SCHEMES))
def test_every_operation_says_how_to_authenticate(harness: Harness, mount: str) -> None:
    document = harness.client.get(f"{mount}/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == SCHEMES[mount]
    for path, method, operation in _operations(document):
        requirement = operation["security"]
        if (mount, path) in PUBLIC:
            assert requirement == [], path
            continue
        assert requirement and all(set(r) <= set(schemes) for r in requirement), (method, path)
        assert "401" in operation["responses"], (method, path)
    if mount == "/instathings":
        assert schemes["OAuth2"]["flows"]["clientCredentials"]["tokenUrl"] == "authentication/v1/oauth/token"


@pytest.mark.parametrize("mount", list(SCHEMES))
def test_errors_are_described_in_the_dialects_own_shape(harness: Harness, mount: str) -> None:
    document = harness.client.get(f"{mount}/openapi.json").json()
    text = json.dumps(document)
    assert '"422"' not in text and "HTTPValidationError" not in text
    error_schema = document["components"]["schemas"]["Error"]
    described = 0
    for _, _, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                content = response["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}
                assert _fits(content["example"], error_schema), content["example"]
                described += 1
    assert described >= len(_operations(document))


@pytest.mark.parametrize("mount", list(SCHEMES))
def test_a_real_401_fits_the_described_one(harness: Harness, mount: str) -> None:
    document = harness.client.get(f"{mount}/openapi.json").json()
    path = UNAUTHENTICATED[mount]
    described = document["paths"][path]["get"]["responses"]["401"]["content"]["application/json"]["example"]
    answer = harness.client.get(f"{mount}{path}")
    assert answer.status_code == 401
    assert _fits(answer.json(), document["components"]["schemas"]["Error"])
    assert set(answer.json()) == set(described)


SEED = Path(__file__).parent.parent / "golden/seeds/001_2a6442074f455a84.txt"


def _seed_examples() -> list[Any]:
    """The AWT seed's JSON examples (token, devices, readings), parsed from its text."""
    prefixes = ('{ "token"', "[ {")
    return [json.loads(line) for line in SEED.read_text().splitlines() if line.startswith(prefixes)]


def test_awts_answers_carry_the_seeds_own_examples(harness: Harness) -> None:
    token, devices, readings = _seed_examples()
    paths = harness.client.get("/awt/v2/openapi.json").json()["paths"]

    def example(path: str, method: str, status: str) -> Any:
        return paths[path][method]["responses"][status]["content"]["application/json"]["example"]

    assert example("/token", "post", "200") == token
    assert example("/devices", "get", "200") == devices
    for path in ("/data", "/data/{tag_id}", "/data/latest", "/data/archive", "/data/archive/{tag_id}"):
        assert example(path, "get", "200") == readings, path


def test_instathings_operations_carry_the_seeds_examples(harness: Harness) -> None:
    document = harness.client.get("/instathings/openapi.json").json()
    for key, example in SEED_EXAMPLES.items():
        method, path = key.split(" ", 1)
        responses = document["paths"][path][method.lower()]["responses"]
        success = next(status for status in responses if status.startswith("2"))
        assert responses[success]["content"]["application/json"]["example"] == example, key
    # The examples are the seed's: the protocol example is the seed's block, parsed.
    seed = (SEED.parent / "002_8429c5392d8771e4.txt").read_text()
    block = seed[seed.index('{\n  "id": "vRy6GTde"') :]
    assert (
        json.loads(block[: block.index("}") + 1]) == SEED_EXAMPLES["GET /device/v1/protocols/{protocol_id}"]
    )


def test_instathings_devices_answer_with_the_fields_of_the_seeds_example(harness: Harness) -> None:
    """The hub's own answer has the seed example's fields (a gateway's `subDevices` only on gateways)."""
    client = Client(harness, harness.project())
    client.device(name="collar")
    (answer,) = client.call("GET", "/device/v1/devices").json()
    seed_fields = {field for device in SEED_EXAMPLES["GET /device/v1/devices"] for field in device}
    assert set(answer) <= seed_fields | {"typeId", "protocols", "parameters"}, set(answer) - seed_fields
    assert {"projectId", "ts", "isVirtual", "demoActive", "id", "isGateway", "name"} <= set(answer)
