"""Every metric of govbus, declared once.

Names follow Prometheus conventions: ``govbus_<noun>_<unit>``, base units (seconds, bytes,
ratio), ``_total`` for counters (prometheus-client appends it to the declared name), and
bounded labels only (see ``ALLOWED_LABELS``; never an entity key, event id or offset).

Instrumentation is one line::

    from ops import metrics
    metrics.stage_events.labels(stage="standardize", dept="gongan", outcome="out").inc(n)
    metrics.dlq_events.labels(stage="standardize", step="raw.rules", dept="gongan",
                              reason="bad_id").inc()
    with metrics.stage_batch_seconds.labels(stage="standardize").time(): ...
    metrics.observe_end_to_end("person", source_ts_ms)      # source time -> now

All metrics live in the default registry, where prometheus-client also keeps its process
collector (``process_start_time_seconds``, CPU, memory) and Python GC/platform metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import metadata
from typing import Final, Literal

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.registry import CollectorRegistry

NAMESPACE: Final = "govbus"

#: The only label names a govbus metric may carry; each has a small, known value set.
ALLOWED_LABELS: Final = frozenset(
    {"stage", "topic", "dept", "outcome", "reason", "table", "group", "partition", "dimension",
     "version", "step"}
)

#: Closed value sets of the ``outcome`` labels (tests and dashboards rely on them).
STAGE_OUTCOMES: Final = ("in", "out", "rejected", "filtered", "stale")
CONNECTOR_TASK_OUTCOMES: Final = ("running", "failed", "paused", "unassigned")

StageOutcome = Literal["in", "out", "rejected", "filtered", "stale"]

MetricType = Literal["counter", "gauge", "histogram"]

# Per-batch processing time: 1 ms .. 30 s.
BATCH_SECONDS_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)
# Events or rows per batch: 1 .. 100k.
BATCH_SIZE_BUCKETS: Final = (
    1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000,
)
# Source time -> ClickHouse: 10 ms .. 60 s (and beyond goes to +Inf).
LATENCY_SECONDS_BUCKETS: Final = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
)
# One ClickHouse insert: 5 ms .. 60 s.
INSERT_SECONDS_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)


@dataclass(frozen=True)
class MetricSpec:
    """One declared metric as exposed: full sample-family name, type, labels, help."""

    name: str
    type: MetricType
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()

    @property
    def series_names(self) -> tuple[str, ...]:
        """The sample names a scrape shows (histograms add _bucket/_sum/_count)."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


_specs: list[MetricSpec] = []


def _counter(name: str, help_: str, labels: tuple[str, ...],
             registry: CollectorRegistry | None) -> Counter:
    assert name.endswith("_total"), name
    metric = Counter(name.removesuffix("_total"), help_, labels, registry=registry)
    _specs.append(MetricSpec(name, "counter", labels, help_))
    return metric


def _gauge(name: str, help_: str, labels: tuple[str, ...],
           registry: CollectorRegistry | None) -> Gauge:
    metric = Gauge(name, help_, labels, registry=registry)
    _specs.append(MetricSpec(name, "gauge", labels, help_))
    return metric


def _histogram(name: str, help_: str, labels: tuple[str, ...], buckets: tuple[float, ...],
               registry: CollectorRegistry | None) -> Histogram:
    metric = Histogram(name, help_, labels, buckets=buckets, registry=registry)
    _specs.append(MetricSpec(name, "histogram", labels, help_, tuple(float(b) for b in buckets)))
    return metric


_R: CollectorRegistry = REGISTRY

# ------------------------------------------------------------------ build / process

build_info = _gauge(
    "govbus_build_info", "Always 1; the version label names the running govbus build.",
    ("version",), _R)

# ------------------------------------------------------------------ stages (streams)

stage_events = _counter(
    "govbus_stage_events_total",
    "Events through a stage by department and outcome (in, out, rejected, filtered, stale).",
    ("stage", "dept", "outcome"), _R)
dlq_events = _counter(
    "govbus_dlq_events_total",
    "Events a stage sent to its dead-letter topic, by the step that failed and reason code.",
    ("stage", "step", "dept", "reason"), _R)
ignored_events = _counter(
    "govbus_stage_ignored_events_total",
    "Events a stage deliberately did not process, by reason: the change-capture connector's "
    "tombstones, truncates, heartbeats and logical-decoding messages.",
    ("stage", "dept", "reason"), _R)
source_undeclared_columns = _gauge(
    "govbus_source_undeclared_columns",
    "Columns a department's captured table has that its source declaration does not carry "
    "(added at the source, e.g. ALTER TABLE ADD COLUMN), by source table: left out until "
    "declared; the raw worker's log names them.",
    ("table",), _R)
stage_batch_seconds = _histogram(
    "govbus_stage_batch_seconds", "Processing time of one batch in a stage.",
    ("stage",), BATCH_SECONDS_BUCKETS, _R)
stage_batch_events = _histogram(
    "govbus_stage_batch_events", "Events per batch taken by a stage.",
    ("stage",), BATCH_SIZE_BUCKETS, _R)
end_to_end_latency_seconds = _histogram(
    "govbus_end_to_end_latency_seconds",
    "Time from the source change (source.ts_ms) until its row is in ClickHouse.",
    ("table",), LATENCY_SECONDS_BUCKETS, _R)

# ------------------------------------------------------------------ consumers

consumer_lag = _gauge(
    "govbus_consumer_lag_messages",
    "Messages between a consumer group's position and the partition's high watermark.",
    ("group", "topic", "partition"), _R)
state_restore_remaining = _gauge(
    "govbus_state_restore_remaining_messages",
    "Changelog messages a worker still has to read before the partitions it was assigned "
    "are processed (0 when none is restoring).",
    ("table",), _R)

# ------------------------------------------------------------------ sinks (ClickHouse)

sink_batch_rows = _histogram(
    "govbus_sink_batch_rows", "Rows per ClickHouse insert batch.",
    ("table",), BATCH_SIZE_BUCKETS, _R)
sink_insert_seconds = _histogram(
    "govbus_sink_insert_seconds", "Duration of one ClickHouse insert.",
    ("table",), INSERT_SECONDS_BUCKETS, _R)
sink_dedup_retries = _counter(
    "govbus_sink_dedup_retries_total",
    "Inserts retried with the same deduplication token (after a failure or restart).",
    ("table",), _R)
sink_rows = _counter(
    "govbus_sink_rows_total", "Rows inserted into a ClickHouse table.", ("table",), _R)
sink_last_insert_timestamp = _gauge(
    "govbus_sink_last_insert_timestamp_seconds",
    "Unix time of the last successful insert into a ClickHouse table.", ("table",), _R)

# ------------------------------------------------------------------ quality

quality_findings = _counter(
    "govbus_quality_findings_total",
    "Data quality findings by department, quality dimension and reason code.",
    ("dept", "dimension", "reason"), _R)

# ------------------------------------------------------------------ privacy (k-anonymity)

library_smallest_class_rows = _gauge(
    "govbus_library_smallest_class_rows",
    "Rows in the smallest class of a theme library over its quasi-identifiers (its k).",
    ("table",), _R)
library_small_class_rows = _gauge(
    "govbus_library_small_class_rows",
    "Rows of a theme library in classes smaller than k over its quasi-identifiers.",
    ("table",), _R)
library_rows = _gauge(
    "govbus_library_rows", "Live rows of a theme library, as last measured.", ("table",), _R)

# ------------------------------------------------------------------ sharing

cdc_connector_tasks = _gauge(
    "govbus_cdc_connector_tasks",
    "Tasks of a captured source table's Debezium connector, by state (running, failed, "
    "paused, unassigned), from Kafka Connect's REST API.",
    ("table", "outcome"), _R)
subscriptions_overdue = _gauge(
    "govbus_subscriptions_overdue_requests",
    "有条件 subscription requests past their 10-working-day due date, by providing dept.",
    ("dept",), _R)

#: Every declared metric: name (as scraped, counters with _total), type, labels, help.
METRICS: Final[tuple[MetricSpec, ...]] = tuple(_specs)
METRICS_BY_NAME: Final = {spec.name: spec for spec in METRICS}


# ------------------------------------------------------------------ the brokers' own


@dataclass(frozen=True)
class BrokerMetricSpec:
    """A gauge each Kafka broker exports itself: one MBean's ``Value``, served by the JMX
    exporter agent attached to the broker (``ops/stack/broker_metrics.py`` writes the agent's
    rules from this declaration). The scrape adds the ``node`` label (see prometheus.yml.tmpl).
    """

    object_name: str  # kafka.<domain>:type=<Type>,name=<Name>
    help: str
    type: MetricType = "gauge"

    @property
    def name(self) -> str:
        """kafka_<domain>_<type>_<name> in lower case, the exporter's usual Kafka naming."""
        domain, _, keys = self.object_name.partition(":")
        values = [pair.partition("=")[2] for pair in keys.split(",")]
        return "_".join([domain.replace(".", "_"), *values]).lower()

    @property
    def series_names(self) -> tuple[str, ...]:
        return (self.name,)


#: What the brokers export, no more: the agent serves these MBeans only (and its JVM's own
#: jvm_* metrics). The controller's gauges are the KRaft quorum controller's: every node of
#: the quorum reports its view of the metadata, and only the leader has ActiveControllerCount 1.
BROKER_METRICS: Final = (
    BrokerMetricSpec("kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions",
                     "Partitions this broker leads that have a replica out of sync."),
    BrokerMetricSpec("kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount",
                     "Partitions this broker leads with fewer in-sync replicas than "
                     "min.insync.replicas: writes with acks=all to them are refused."),
    BrokerMetricSpec("kafka.controller:type=KafkaController,name=ActiveControllerCount",
                     "1 on the node leading the controller quorum, else 0."),
    BrokerMetricSpec("kafka.controller:type=KafkaController,name=OfflinePartitionsCount",
                     "Partitions without a leader, as the controller's metadata shows."),
    BrokerMetricSpec("kafka.controller:type=KafkaController,name=ActiveBrokerCount",
                     "Brokers registered and unfenced, as the controller's metadata shows."),
    BrokerMetricSpec("kafka.controller:type=KafkaController,name=FencedBrokerCount",
                     "Brokers registered but fenced (stopped heartbeating), as the controller's "
                     "metadata shows."),
)
BROKER_METRICS_BY_NAME: Final = {spec.name: spec for spec in BROKER_METRICS}


def _version() -> str:
    try:
        return metadata.version("govbus")
    except metadata.PackageNotFoundError:
        return "unknown"


build_info.labels(version=_version()).set(1)


# ------------------------------------------------------------------ helpers


def observe_end_to_end(table: str, source_ts_ms: int | float, now_s: float | None = None) -> None:
    """Record source time -> now for one row in ``table`` (negative clock skew counts as 0)."""
    now = time.time() if now_s is None else now_s
    end_to_end_latency_seconds.labels(table=table).observe(max(0.0, now - source_ts_ms / 1000.0))


def record_insert(table: str, rows: int, seconds: float, now_s: float | None = None) -> None:
    """One successful ClickHouse insert: rows, duration, batch size and freshness at once."""
    sink_rows.labels(table=table).inc(rows)
    sink_batch_rows.labels(table=table).observe(rows)
    sink_insert_seconds.labels(table=table).observe(seconds)
    sink_last_insert_timestamp.labels(table=table).set(time.time() if now_s is None else now_s)


def record_stage_batch(stage: str, events: int, seconds: float) -> None:
    """One processed batch of a stage: its size and processing time."""
    stage_batch_events.labels(stage=stage).observe(events)
    stage_batch_seconds.labels(stage=stage).observe(seconds)


def set_consumer_lag(group: str, topic: str, partition: int, lag: int) -> None:
    consumer_lag.labels(group=group, topic=topic, partition=str(partition)).set(max(0, lag))
