"""The local brokers serve their own metrics (the JMX exporter agent), and a real Prometheus
scrapes them with the node label the dashboards and alerts group by."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ops.metrics import BROKER_METRICS
from ops.settings import Settings
from ops.stack.kafka import KafkaCluster
from tests.integration.ops.conftest import Prometheus


def test_each_broker_serves_the_declared_metrics_and_prometheus_scrapes_them(
        stack: Settings, prometheus: Prometheus) -> None:
    if not (stack.manage_stack and stack.metrics_enabled):
        pytest.skip("the brokers are not this stack's, or their metrics are off")
    cluster = KafkaCluster(stack)
    for node in cluster.nodes:
        assert node.metrics_url is not None
        scrape = httpx.get(node.metrics_url, timeout=10)
        scrape.raise_for_status()
        served = {family.name: family for family in text_string_to_metric_families(scrape.text)}
        for spec in BROKER_METRICS:
            assert spec.name in served, f"node {node.node} does not serve {spec.name}"
            assert served[spec.name].type == spec.type
            assert served[spec.name].documentation == spec.help
        # Kafka's thousands of other MBeans stay out (the agent's own jmx_* and jvm_* come).
        assert not {name for name in served if name.startswith("kafka_")} - {
            spec.name for spec in BROKER_METRICS}

    prometheus.discover_brokers(stack)
    up = 'count(up{job="kafka"} == 1)'
    assert prometheus.wait_for(up, lambda v: v == len(cluster.nodes)) == len(cluster.nodes)
    controller = prometheus.wait_for(
        'sum(kafka_controller_kafkacontroller_activecontrollercount{job="kafka"})',
        lambda v: v == 1)
    assert controller == 1
    leaders = prometheus.query('kafka_controller_kafkacontroller_activecontrollercount == 1')
    assert [int(series["metric"]["node"]) for series in leaders] == [cluster.active_controller()]
    brokers = prometheus.value('max(kafka_controller_kafkacontroller_activebrokercount)')
    assert brokers == len(cluster.nodes)
