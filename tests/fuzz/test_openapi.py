"""Schemathesis over each API's own OpenAPI document: every operation, with generated path parameters and
bodies, authenticated and not. No 5xx, every error in the API's own shape, no answer that its document does
not describe (status, content type, body schema), and the views still answer."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fieldstation.assembly import DIALECTS
from tests.fuzz.conftest import Scene, check_answer, check_views_still_work

EXAMPLES = 150
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize("mount", [d.mount for d in DIALECTS])
def test_every_operation(scene: Scene, mount: str) -> None:
    document = scene.client.get(f"{mount}/openapi.json").json()
    operations = [result.ok() for result in schemathesis.openapi.from_dict(document).get_all_operations()]  # type: ignore[union-attr]
    assert operations
    seen: set[str] = set()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=st.sampled_from(operations).flatmap(lambda op: op.as_strategy()), authenticated=st.booleans())
    def run(case: Any, authenticated: bool) -> None:
        request = case.as_transport_kwargs(base_url=f"http://testserver{mount}")
        if authenticated:
            request["headers"] = {**request["headers"], **scene.headers[mount]}
        request.pop("cookies", None)
        response = scene.client.request(**request)
        path = request["url"].removeprefix("http://testserver")
        check_answer(response, path.split("?")[0])
        # Every answer is one the document promises: its status, content type and body schema.
        case.validate_response(response, checks=CONFORMANCE)
        seen.add(case.operation.label)

    run()
    assert len(seen) >= len(operations) // 2  # the draw reached most operations
    check_views_still_work(scene)
