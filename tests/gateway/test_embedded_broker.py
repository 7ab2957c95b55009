"""`fieldstation serve` with its embedded broker (amqtt, a process of its own): a gateway connects with its
bundle alone, pairs a virtual device and its data arrives; the broker admits a certificate to its own
topics only, as Mosquitto does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.conftest import VIRTUAL_TYPE, Site, exchange_as_gateway


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = Site(tmp_path_factory.mktemp("embedded"), embedded=True)
    try:
        built.start_agent()
        yield built
    finally:
        built.close()


def test_a_gateway_pairs_and_forwards_through_the_embedded_broker(embedded: Site) -> None:
    connected = embedded.events.wait(lambda e: e["action"] == "connected", what="connected")
    assert connected["payload"]["id"] == embedded.gateway["id"]
    device = embedded.pair("probe", VIRTUAL_TYPE, {"frequency": 1})
    data = embedded.events.wait(
        lambda e: e["action"] == "data" and e["payload"]["deviceId"] == device["id"], what="data"
    )
    assert data["payload"]["clientId"] == embedded.gateway["id"]


def test_the_embedded_broker_confines_a_certificate_to_its_own_topics(embedded: Site) -> None:
    exchange_as_gateway(embedded)
