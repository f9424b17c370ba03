"""Inserts update the declared sink metrics; latency is measured from the rows' source time."""

from __future__ import annotations

import time

import pyarrow as pa
from prometheus_client import REGISTRY

from sinks.clickhouse.ddl import TableKind, TableSpec
from sinks.instrumentation import MetricsObserver, source_times_ms
from tests.unit.sinks.samples import finding
from topics.schemas import load_avsc


def spec(name: str) -> TableSpec:
    return TableSpec(
        name=name,
        schema=load_avsc("quality/finding.avsc"),
        kind=TableKind.EVENT,
        order_by=("finding_id",),
        source_time_column="source_ts_ms",
    )


def sample(metric: str, table: str) -> float:
    return REGISTRY.get_sample_value(metric, {"table": table}) or 0.0


def test_source_times_from_ints_and_timestamps() -> None:
    table = spec("t_times")
    ints = pa.table({"source_ts_ms": pa.array([1000, 2000, 3000], pa.int64())})
    assert source_times_ms(table, ints) == [1000, 2000, 3000]
    stamps = ints.cast(pa.schema([("source_ts_ms", pa.timestamp("ms", "UTC"))]))
    assert source_times_ms(table, stamps) == [1000, 2000, 3000]
    assert len(source_times_ms(table, ints, sample=2)) == 2


def test_metrics_observer_counts_rows_and_latency() -> None:
    name = f"t_metrics_{time.time_ns()}"
    now_ms = time.time_ns() // 1_000_000
    data = pa.table({"source_ts_ms": pa.array([now_ms - 1500] * 4, pa.int64())})
    observer = MetricsObserver()
    observer.inserted(spec(name), data, 0.02, attempt=1, recovered=False)
    observer.inserted(spec(name), data, 0.02, attempt=2, recovered=False)
    observer.inserted(spec(name), data, 0.02, attempt=1, recovered=True)
    assert sample("govbus_sink_rows_total", name) == 8  # the recovered insert is not counted
    assert sample("govbus_sink_dedup_retries_total", name) == 2
    assert sample("govbus_sink_batch_rows_count", name) == 2
    assert sample("govbus_end_to_end_latency_seconds_count", name) == 8
    latency = sample("govbus_end_to_end_latency_seconds_sum", name) / 8
    assert 1.4 < latency < 5
    assert sample("govbus_sink_last_insert_timestamp_seconds", name) > 0


def test_finding_sample_has_a_source_time() -> None:
    assert finding(1)["source_ts_ms"] > 0
