"""`/metrics` (Prometheus text format) and `/readyz`, on a hub in this process."""

from __future__ import annotations

import re

from tests.conftest import Harness, token_headers, ttn_uplink


def _value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_metrics_count_requests_uplinks_and_refusals(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 77, "04C46100008F2C77")
    before = harness.client.get("/metrics").text
    for n in range(3):
        response = harness.client.post(
            "/awt/v2/ttn-webhook",
            content=ttn_uplink("04C46100008F2C77", 77, n),
            headers=token_headers(created),
        )
        assert response.status_code == 201, response.text
    refused = harness.client.post("/awt/v2/ttn-webhook", content=b"{}", headers={"X-API-KEY": "nope"})
    assert refused.status_code == 401
    response = harness.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    after = response.text

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("fieldstation_uplinks_total", outcome="stored") == 3
    assert grew("fieldstation_uplinks_refused_total", source="ttn", reason="unauthorized") == 1
    assert grew("fieldstation_http_requests_total", api="awt/v2", route="ttn_webhook", status="201") == 3
    assert "fieldstation_ingest_commit_seconds_bucket" in after and "fieldstation_live_subscribers" in after


def test_readyz_says_what_answers(harness: Harness) -> None:
    response = harness.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "checks": {"store": "ok"}}
