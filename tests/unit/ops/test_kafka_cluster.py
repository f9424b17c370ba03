"""The local cluster's shape derives from one setting: node ports, bootstrap list, replicas
and each node's configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ops.settings import Settings
from ops.stack.kafka import KafkaCluster


@pytest.fixture(autouse=True)
def _no_cluster_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOVBUS_KAFKA_BROKERS", "GOVBUS_KAFKA_BOOTSTRAP",
                 "GOVBUS_KAFKA_CONTROLLER_PORT"):
        monkeypatch.delenv(name, raising=False)


def _settings(tmp_path: Path, brokers: int) -> Settings:
    return Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:25092",
                    kafka_controller_port=25093, kafka_brokers=brokers)


def test_one_broker_is_the_default_and_replicates_nothing(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    assert settings.kafka_brokers == 1
    assert settings.kafka_servers == settings.kafka_bootstrap
    assert (settings.replication_factor, settings.min_insync_replicas) == (1, 1)
    (node,) = KafkaCluster(settings).nodes
    assert (node.process.name, node.home) == ("kafka", tmp_path / "kafka")


def test_three_nodes_take_ports_ten_apart_and_every_client_bootstraps_from_all(
        tmp_path: Path) -> None:
    settings = _settings(tmp_path, 3)
    assert settings.kafka_nodes == (("127.0.0.1", 25092, 25093), ("127.0.0.1", 25102, 25103),
                                    ("127.0.0.1", 25112, 25113))
    assert settings.kafka_servers == "127.0.0.1:25092,127.0.0.1:25102,127.0.0.1:25112"
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
    # Another cluster's list is taken as given.
    given = Settings(kafka_bootstrap="a:9092,b:9092", kafka_brokers=3)
    assert given.kafka_servers == "a:9092,b:9092"


def test_each_node_is_a_voter_with_its_own_listeners_data_and_replicated_internal_topics(
        tmp_path: Path) -> None:
    cluster = KafkaCluster(_settings(tmp_path, 3))
    node = cluster.node(2)
    node._write_config()
    config = dict(line.split("=", 1) for line in node.config_file.read_text().splitlines()
                  if "=" in line and not line.startswith("#"))
    assert node.process.name == "kafka-2"
    assert node.home == tmp_path / "kafka-3" / "node2"
    assert config["node.id"] == "2"
    assert config["controller.quorum.voters"] == (
        "1@127.0.0.1:25093,2@127.0.0.1:25103,3@127.0.0.1:25113")
    assert "CLIENT://127.0.0.1:25102" in config["listeners"]
    assert "INTERNAL://127.0.0.1:25104" in config["listeners"]
    assert "CONTROLLER://127.0.0.1:25103" in config["listeners"]
    assert config["log.dirs"] == str(node.data_dir)
    for key in ("default.replication.factor", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor"):
        assert config[key] == "3"
    assert config["min.insync.replicas"] == config["transaction.state.log.min.isr"] == "2"
    # KIP-848 groups' sessions are the broker's: short enough for a dead member's
    # partitions to move within seconds, and allowed by the minimums.
    assert (int(config["group.consumer.min.session.timeout.ms"])
            <= int(config["group.consumer.session.timeout.ms"]) <= 10_000)
    assert (int(config["group.consumer.min.heartbeat.interval.ms"])
            <= int(config["group.consumer.heartbeat.interval.ms"])
            < int(config["group.consumer.session.timeout.ms"]) // 3)


def test_the_active_controller_is_the_leader_of_the_highest_epoch_a_running_node_saw(
        tmp_path: Path) -> None:
    cluster = KafkaCluster(_settings(tmp_path, 3))
    assert cluster.active_controller() is None
    for node, (leader, epoch) in zip(cluster.nodes, ((1, 4), (3, 5), (1, 4)), strict=True):
        node.quorum_state_file.parent.mkdir(parents=True)
        node.quorum_state_file.write_text(f'{{"leaderId":{leader},"leaderEpoch":{epoch}}}')
        # A running node: its pid file names this test's own process.
        node.process.run_dir.mkdir(parents=True, exist_ok=True)
        node.process.pid_file.write_text(str(os.getpid()))
    assert cluster.active_controller() == 3

