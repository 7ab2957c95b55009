"""The agent's parts on their own: the outbox's limit, its order and removals; the configuration's errors;
the link's topics and the rule that confines a gateway to them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fieldstation.cli import app
from fieldstation.gateway.config import ConfigError, load, unpack_bundle
from fieldstation.gateway.outbox import AgentStore, Delivery, OutboxFull
from fieldstation.link.topics import Address, admits, parse


def test_a_full_outbox_refuses_new_records_and_keeps_every_old_one(tmp_path: Path) -> None:
    store = AgentStore(tmp_path, max_records=3)
    kept = store.add([("dev1", {"n": n}, None) for n in range(3)])
    assert [r.seq for r in kept if r is not None] == [1, 2, 3] and store.pending == 3
    with pytest.raises(OutboxFull, match="maximum is 3"):
        store.add([("dev1", {"n": 4}, None)])
    assert [r.payload for r in store.after(0, 10)] == ['{"n":0}', '{"n":1}', '{"n":2}']
    assert store.remove(1, 2) == 2 and store.pending == 1
    store.add([("dev1", {"n": 5}, 1_700_000_000_000)])
    [old, new] = store.after(0, 10)
    assert (old.payload, new.payload, new.ts) == ('{"n":2}', '{"n":5}', 1_700_000_000_000)
    store.close()
    reopened = AgentStore(tmp_path, max_records=3)
    assert reopened.pending == 2 and len({r.id for r in reopened.after(0, 10)}) == 2


def test_a_message_sent_again_after_a_crash_is_kept_once(tmp_path: Path) -> None:
    """A broker sends a message again (DUP) when the agent died after keeping it and before acknowledging
    it: the same key and the same content are the same message. A new message that reuses the key (ids
    cycle), or says nothing of being sent again, is new."""
    store = AgentStore(tmp_path, max_records=100)
    first = store.add([("dev1", {"n": 1}, None)], deliveries=[Delivery("mqtt:b:1", again=False)])
    store.close()
    store = AgentStore(tmp_path, max_records=100)  # the agent restarted
    again = store.add(
        [("dev1", {"n": 1}, None), ("dev1", {"n": 2}, None), ("dev1", {"n": 1}, None)],
        deliveries=[Delivery("mqtt:b:1", again=True), Delivery("mqtt:b:2", again=True), None],
    )
    assert first[0] is not None and again[0] is None and again[1] is not None and again[2] is not None
    assert store.pending == 3
    reused = store.add([("dev1", {"n": 1}, None)], deliveries=[Delivery("mqtt:b:1", again=False)])
    changed = store.add([("dev1", {"n": 9}, None)], deliveries=[Delivery("mqtt:b:1", again=True)])
    assert reused[0] is not None and changed[0] is not None and store.pending == 5


def test_the_configuration_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unzip the gateway's certificate bundle"):
        load(tmp_path / ".env")
    (tmp_path / ".env").write_text("ENV=live\nPROJECT_ID=p\n")
    with pytest.raises(ConfigError, match="lacks PARENT_DEVICE_ID, BROKER_HOST"):
        load(tmp_path / ".env")
    (tmp_path / ".env").write_text("PROJECT_ID=p\nPARENT_DEVICE_ID=g\nCLOUD_ENABLED=maybe\n")
    with pytest.raises(ConfigError, match="CLOUD_ENABLED must be true or false"):
        load(tmp_path / ".env")
    (tmp_path / ".env").write_text(
        "PROJECT_ID=p\nPARENT_DEVICE_ID=g\nCLOUD_ENABLED=false\nOUTBOX_MAX_RECORDS=²\n"
    )
    with pytest.raises(ConfigError, match="OUTBOX_MAX_RECORDS must be a whole number"):
        load(tmp_path / ".env")
    (tmp_path / ".env").write_text("PROJECT_ID=p\nPARENT_DEVICE_ID=g\nCLOUD_ENABLED=false\n")
    config = load(tmp_path / ".env")
    assert not config.cloud_enabled and config.data_dir == tmp_path / "data"


@pytest.mark.parametrize(
    ("address", "topic"),
    [
        (Address("live", "P1", "G1"), "discover/P1/G1/device/post"),
        (Address("sandbox", "P1", "G1"), "sandbox-discover/P1/sandbox-G1/device/post"),
        (
            Address("staging", "qw9qxyV_U", "bErr2i6qv"),
            "staging-discover/qw9qxyV_U/staging-bErr2i6qv/device/post",
        ),
    ],
)
def test_topics_follow_the_vendors_scheme_both_ways(address: Address, topic: str) -> None:
    assert address.topic("discover", "device", "post") == topic
    parsed = parse(topic)
    assert parsed is not None and parsed.address == address and parsed.rest == ("device", "post")


def test_a_gateway_is_admitted_to_its_own_topics_only() -> None:
    me = Address("live", "P1", "G1").identity
    assert (
        admits(me, "discover/P1/G1/version") and admits(me, "control/P1/G1/+/+") and admits(me, "ack/P1/G1")
    )
    for foreign in ("discover/P1/G2/version", "discover/P2/G1/version", "discover/P1/G1x/version",
                    "other/P1/G1/x", "#", "discover/#", "discover/+/G1/version"):  # fmt: skip
        assert not admits(me, foreign), foreign
    assert parse("discover/P1") is None and parse("staging-discover/P1/live-G1/x") is None


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [("nope.zip", None, "does not exist"), ("bad.zip", b"not a zip", "is not a zip file")],
)
def test_a_bundle_that_is_not_one_is_refused_and_makes_nothing(
    tmp_path: Path, name: str, content: bytes | None, said: str
) -> None:
    """A file that was not a zip ended `gateway run --bundle` with a BadZipFile traceback, and left an empty
    folder beside it."""
    bundle = tmp_path / name
    if content is not None:
        bundle.write_bytes(content)
    with pytest.raises(ConfigError, match=said):
        unpack_bundle(bundle, bundle.with_suffix(""))
    assert not bundle.with_suffix("").exists()


def test_declaring_a_device_again_says_it_replaces_the_one_before(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("PROJECT_ID=local\nPARENT_DEVICE_ID=gw00001\nCLOUD_ENABLED=false\n")
    add = ["gateway", "device", "add", "--config", str(env), "--id", "probe01"]
    first = CliRunner().invoke(app, [*add, "--type", "virtual", "--parameters", '{"frequency": 60}'])
    again = CliRunner().invoke(app, [*add, "--type", "http", "--parameters", '{"host": "10.0.0.7"}'])
    assert first.exit_code == again.exit_code == 0
    assert "probe01 (virtual) declared" in first.stdout
    said = " ".join(again.stdout.split())
    assert 'declared again, in place of the one before (virtual, {"frequency": 60})' in said, said
