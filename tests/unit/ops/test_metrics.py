"""ops.metrics: names follow Prometheus conventions and match what a scrape shows."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ops import metrics
from ops.metrics import ALLOWED_LABELS, METRICS, METRICS_BY_NAME

from .conftest import Promtool

PROJECT = Path(metrics.__file__).resolve().parents[1]
NAME = re.compile(r"^govbus_[a-z][a-z0-9]*(_[a-z0-9]+)+$")
# The base unit (or countable noun) a name ends with, before _total for counters.
UNITS = {"seconds", "ratio", "messages", "events", "rows", "retries", "findings", "info",
         "bytes", "requests", "columns", "tasks"}
REQUIRED = {
    "govbus_stage_events_total": ("counter", ("stage", "dept", "outcome")),
    "govbus_dlq_events_total": ("counter", ("stage", "step", "dept", "reason")),
    "govbus_stage_batch_seconds": ("histogram", ("stage",)),
    "govbus_stage_batch_events": ("histogram", ("stage",)),
    "govbus_end_to_end_latency_seconds": ("histogram", ("table",)),
    "govbus_consumer_lag_messages": ("gauge", ("group", "topic", "partition")),
    "govbus_sink_batch_rows": ("histogram", ("table",)),
    "govbus_sink_insert_seconds": ("histogram", ("table",)),
    "govbus_sink_dedup_retries_total": ("counter", ("table",)),
    "govbus_sink_rows_total": ("counter", ("table",)),
    "govbus_sink_last_insert_timestamp_seconds": ("gauge", ("table",)),
    "govbus_quality_findings_total": ("counter", ("dept", "dimension", "reason")),
    "govbus_build_info": ("gauge", ("version",)),
}


def test_the_required_metrics_are_declared_with_their_labels() -> None:
    declared = {spec.name: (spec.type, spec.labels) for spec in METRICS}
    for name, expected in REQUIRED.items():
        assert declared.get(name) == expected, name


def test_names_follow_prometheus_conventions() -> None:
    assert len(METRICS_BY_NAME) == len(METRICS), "a metric is declared twice"
    for spec in METRICS:
        assert NAME.match(spec.name), spec.name
        parts = spec.name.split("_")
        if spec.type == "counter":
            assert parts[-1] == "total", spec.name
            assert parts[-2] in UNITS, spec.name
        else:
            assert parts[-1] != "total" and parts[-1] in UNITS, spec.name
        assert spec.help and spec.help.endswith((".", ")")), spec.name
        if spec.type == "histogram":
            assert list(spec.buckets) == sorted(spec.buckets) and spec.buckets, spec.name


def test_labels_are_bounded() -> None:
    for spec in METRICS:
        assert set(spec.labels) <= ALLOWED_LABELS, (spec.name, spec.labels)
        assert not {"le", "quantile", "instance", "job"} & set(spec.labels)


def test_latency_buckets_span_10_ms_to_60_s() -> None:
    buckets = METRICS_BY_NAME["govbus_end_to_end_latency_seconds"].buckets
    assert buckets[0] == 0.01 and buckets[-1] == 60.0


def test_the_declarations_match_the_exposition() -> None:
    text = generate_latest(REGISTRY).decode()
    exposed = dict(re.findall(r"^# TYPE (govbus_\w+) (\w+)$", text, re.MULTILINE))
    # prometheus_client adds a <name>_created gauge to a counter once one of its series has
    # a sample (another test may have counted something in this process): not a declaration.
    exposed = {name: kind for name, kind in exposed.items()
               if not (name.endswith("_created") and kind == "gauge")}
    assert exposed == {spec.name: spec.type for spec in METRICS}


def test_the_helpers_record_what_they_say() -> None:
    def value(name: str, labels: dict[str, str]) -> float:
        sample = REGISTRY.get_sample_value(name, labels)
        return 0.0 if sample is None else sample

    before = value("govbus_stage_events_total",
                   {"stage": "unit", "dept": "test", "outcome": "in"})
    metrics.stage_events.labels(stage="unit", dept="test", outcome="in").inc(3)
    assert value("govbus_stage_events_total",
                 {"stage": "unit", "dept": "test", "outcome": "in"}) == before + 3

    metrics.record_insert("unit_table", rows=250, seconds=0.04, now_s=1_700_000_000.0)
    assert value("govbus_sink_rows_total", {"table": "unit_table"}) == 250
    assert value("govbus_sink_last_insert_timestamp_seconds",
                 {"table": "unit_table"}) == 1_700_000_000.0
    assert value("govbus_sink_insert_seconds_bucket", {"table": "unit_table", "le": "0.05"}) == 1

    metrics.observe_end_to_end("unit_table", source_ts_ms=1_000_000, now_s=1_000.5)
    metrics.observe_end_to_end("unit_table", source_ts_ms=2_000_000, now_s=1_000.0)  # skew
    assert value("govbus_end_to_end_latency_seconds_sum", {"table": "unit_table"}) == 0.5
    assert value("govbus_end_to_end_latency_seconds_count", {"table": "unit_table"}) == 2

    metrics.record_stage_batch("unit", events=500, seconds=0.02)
    assert value("govbus_stage_batch_events_bucket", {"stage": "unit", "le": "500.0"}) == 1

    metrics.set_consumer_lag("g", "raw.unit", 3, -5)
    assert value("govbus_consumer_lag_messages",
                 {"group": "g", "topic": "raw.unit", "partition": "3"}) == 0
    assert REGISTRY.get_sample_value("govbus_build_info", {"version": metrics._version()}) == 1


def test_the_process_collector_is_exposed() -> None:
    names = {family.name for family in
             text_string_to_metric_families(generate_latest(REGISTRY).decode())}
    assert "process_start_time_seconds" in names


DECLARATION = re.compile(r"\b(Counter|Gauge|Histogram|Summary|Info|Enum)\(")


def test_no_other_module_declares_prometheus_metrics() -> None:
    offenders = []
    for folder in ("govbus", "streams", "sinks", "topics", "connectors", "ops"):
        for path in (PROJECT / folder).rglob("*.py"):
            text = path.read_text()
            if (path.name != "metrics.py" or path.parent.name != "ops") and \
                    "prometheus_client" in text and DECLARATION.search(text):
                offenders.append(str(path.relative_to(PROJECT)))
    assert not offenders, f"declare metrics in ops/metrics.py, not in {offenders}"


def test_promtool_accepts_the_exposition(promtool: Promtool) -> None:
    metrics.dlq_events.labels(stage="unit", step="unit.step", dept="test",
                              reason="unit_reason").inc()
    metrics.record_insert("unit_table", rows=1, seconds=0.01)
    result = promtool("check", "metrics", stdin=generate_latest(REGISTRY).decode())
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
