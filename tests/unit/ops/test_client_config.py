"""The one consumer configuration, under either group protocol, is one librdkafka takes."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import Consumer

from ops.runtime.client_config import GroupProtocol, consumer_config, offsets_watch_config
from ops.settings import Settings
from streams.runtime.stage_runtime import _producer_config

PRINCIPAL: dict[str, Any] = {"kafka_user": "raw-worker", "kafka_password": "secret"}
CLASSIC_ONLY = ("session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy")


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
@pytest.mark.parametrize("instance_id", [None, "raw-1"])
def test_librdkafka_accepts_the_consumer_configuration(protocol: GroupProtocol,
                                                       instance_id: str | None) -> None:
    config = consumer_config({"bootstrap.servers": "127.0.0.1:1"}, "govbus-raw", instance_id,
                             protocol)
    Consumer(config).close()  # raises on a property the protocol does not take
    assert config["group.protocol"] == protocol
    assert ("group.instance.id" in config) == (instance_id is not None)


def test_the_consumer_protocol_is_the_default_leaves_the_session_to_the_broker_and_assigns_by_range(
) -> None:
    config = consumer_config({}, "govbus-theme")
    assert config["group.protocol"] == "consumer"
    assert not set(CLASSIC_ONLY) & set(config)
    assert config["group.remote.assignor"] == "range"  # co-partitioned, as classic's range
    classic = consumer_config({}, "govbus-theme", protocol="classic")
    assert classic["partition.assignment.strategy"] == "range"


@pytest.mark.parametrize(("protocol", "static", "member"), [
    ("classic", None, "raw-1"),  # static where a restart takes its partitions back at once
    ("consumer", None, None),  # KIP-848 refuses an early restart of a static member, fatally
    ("consumer", True, "raw-1"),
    ("classic", False, None),
])
def test_an_identity_is_a_static_membership_only_where_the_settings_make_it_one(
        protocol: GroupProtocol, static: bool | None, member: str | None) -> None:
    settings = Settings(instance_id="raw-1", group_protocol=protocol, static_membership=static)
    assert settings.group_instance_id == member


def test_an_identity_names_the_transactions_under_either_membership() -> None:
    """Restarted with the same name, a worker fences its predecessor and aborts what it left
    open at once, instead of readers waiting for the transaction to time out."""
    for static in (True, False):
        settings = Settings(instance_id="raw-1", exactly_once=True, static_membership=static,
                            **PRINCIPAL)
        assert _producer_config(settings, "govbus-raw")["transactional.id"] == "govbus-raw-raw-1"
    anonymous = _producer_config(Settings(exactly_once=True, **PRINCIPAL),
                                 "govbus-raw")["transactional.id"]
    assert isinstance(anonymous, str) and anonymous.startswith("govbus-raw-")


def test_an_offsets_watch_sees_high_watermarks_and_commits_nothing() -> None:
    config = offsets_watch_config({"bootstrap.servers": "b:9092"}, "govbus-status",
                                  log_level=0)
    # read_committed would give the start of the oldest open transaction as a topic's end
    assert config["isolation.level"] == "read_uncommitted"
    assert config["enable.auto.commit"] is False
    assert config["group.id"] == "govbus-status"
    assert config["log_level"] == 0 and config["bootstrap.servers"] == "b:9092"
    Consumer(config).close()  # librdkafka takes it
