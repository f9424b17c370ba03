"""The brokers' metrics agent: its rules, port and scrape targets derive from the declaration
in ops.metrics and the cluster's settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ops.metrics import BROKER_METRICS, BrokerMetricSpec
from ops.settings import Settings
from ops.stack import broker_metrics
from ops.stack.kafka import KafkaCluster


@pytest.fixture(autouse=True)
def _no_cluster_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOVBUS_KAFKA_BROKERS", "GOVBUS_KAFKA_BOOTSTRAP",
                 "GOVBUS_KAFKA_CONTROLLER_PORT", "GOVBUS_METRICS_ENABLED"):
        monkeypatch.delenv(name, raising=False)


def _settings(tmp_path: Path, brokers: int = 3, **more: object) -> Settings:
    return Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:25092",
                    kafka_controller_port=25093, kafka_brokers=brokers, **more)


def test_names_are_the_exporters_usual_kafka_names() -> None:
    names = {spec.name for spec in BROKER_METRICS}
    assert {"kafka_server_replicamanager_underreplicatedpartitions",
            "kafka_controller_kafkacontroller_activecontrollercount",
            "kafka_controller_kafkacontroller_offlinepartitionscount",
            "kafka_controller_kafkacontroller_activebrokercount"} <= names
    assert len(names) == len(BROKER_METRICS)
    assert all(re.fullmatch(r"kafka_[a-z0-9_]+", name) for name in names)


def test_the_agent_reads_the_declared_mbeans_only_each_under_its_declared_name() -> None:
    config = broker_metrics.exporter_config()
    assert config["includeObjectNames"] == [spec.object_name for spec in BROKER_METRICS]
    assert [r["name"] for r in config["rules"]] == [spec.name for spec in BROKER_METRICS]
    for spec, rule in zip(BROKER_METRICS, config["rules"], strict=True):
        assert rule["type"] == "GAUGE" and rule["help"] == spec.help
        # The agent's view of an MBean attribute: domain<key=value, key=value><>attribute.
        domain, _, keys = spec.object_name.partition(":")
        bean = f"{domain}<{', '.join(keys.split(','))}><>Value"
        assert re.fullmatch(rule["pattern"], bean), (rule, bean)
        # Dots are literal: no other domain or attribute of the same name matches.
        assert not re.fullmatch(rule["pattern"], bean.replace(".", "x", 1))
        assert not re.fullmatch(rule["pattern"], bean.replace("<>Value", "<>Count"))


def test_a_rule_pattern_for_one_mbean() -> None:
    spec = BrokerMetricSpec("kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions",
                            "help")
    assert broker_metrics.rule(spec)["pattern"] == (
        r"kafka\.server<type=ReplicaManager, name=UnderReplicatedPartitions><>Value")


def test_the_config_file_is_json_the_agent_reads_as_yaml(tmp_path: Path) -> None:
    path = broker_metrics.write_exporter_config(tmp_path / "jmx-exporter.json")
    assert json.loads(path.read_text()) == broker_metrics.exporter_config()


def test_each_node_serves_metrics_three_above_its_client_port_clear_of_every_other_port(
        tmp_path: Path) -> None:
    cluster = KafkaCluster(_settings(tmp_path))
    assert [node.metrics_port for node in cluster.nodes] == [25095, 25105, 25115]
    assert [node.metrics_url for node in cluster.nodes] == [
        f"http://127.0.0.1:{port}/metrics" for port in (25095, 25105, 25115)]
    taken = [port for node in cluster.nodes for port in node._ports()]
    assert len(taken) == len(set(taken)) == 12


def test_metrics_off_means_no_agent_and_no_metrics_port(tmp_path: Path) -> None:
    (node,) = KafkaCluster(_settings(tmp_path, 1, metrics_enabled=False)).nodes
    assert node.metrics_url is None
    assert node._metrics_agent() == []
    assert node.metrics_port not in node._ports()


def test_the_agent_option_serves_on_the_node_host_and_port() -> None:
    option = broker_metrics.agent_option(Path("/x/agent.jar"), "127.0.0.1", 19095,
                                         Path("/h/jmx.json"))
    assert option == "-javaagent:/x/agent.jar=127.0.0.1:19095:/h/jmx.json"


def test_prometheus_finds_every_node_by_its_node_label(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert broker_metrics.scrape_targets(settings) == [
        {"targets": ["127.0.0.1:25095"], "labels": {"node": "1"}},
        {"targets": ["127.0.0.1:25105"], "labels": {"node": "2"}},
        {"targets": ["127.0.0.1:25115"], "labels": {"node": "3"}},
    ]
    path = broker_metrics.write_scrape_targets(settings)
    assert path == tmp_path / "run" / broker_metrics.SCRAPE_TARGETS_FILE
    assert json.loads(path.read_text()) == broker_metrics.scrape_targets(settings)
