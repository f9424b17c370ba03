"""The one consumer configuration, under either group protocol, is one librdkafka takes."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer

from ops.runtime.client_config import GroupProtocol, consumer_config

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
