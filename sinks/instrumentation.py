"""Sink metrics: every acknowledged insert updates the declared ``govbus_sink_*`` metrics and
the end-to-end latency histogram (source time -> row in ClickHouse)."""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.compute as pc

from ops import metrics
from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.writer import InsertObserver

# Latency is observed for at most this many rows of one insert (evenly spaced): a bulk load
# of 10k-row batches would otherwise spend more time in the histogram than in the insert.
LATENCY_SAMPLE = 500


def source_times_ms(spec: TableSpec, data: pa.Table, sample: int | None = None) -> list[int]:
    """Epoch ms of the rows' source time (an Int64 or a timestamp column), optionally a sample."""
    if spec.source_time_column is None or spec.source_time_column not in data.column_names:
        return []
    column = data.column(spec.source_time_column)
    if sample is not None and len(column) > sample:
        step = len(column) / sample
        column = column.take(pa.array([int(i * step) for i in range(sample)], pa.int64()))
    return [v for v in epoch_ms(column) if v]


def epoch_ms(column: pa.ChunkedArray | pa.Array) -> list[int | None]:
    """An Int64 (epoch ms) or timestamp column as epoch ms."""
    if pa.types.is_timestamp(column.type):
        column = pc.cast(column, pa.timestamp("ms", column.type.tz))
    return column.cast(pa.int64()).to_pylist()  # type: ignore[no-any-return]


class MetricsObserver:
    """Records inserts in ``ops.metrics``; the table label is the table's name."""

    def inserted(
        self, spec: TableSpec, data: pa.Table, seconds: float, attempt: int, recovered: bool
    ) -> None:
        now = time.time()
        if attempt > 1 or recovered:
            metrics.sink_dedup_retries.labels(table=spec.name).inc()
        if recovered:
            # Rows an earlier process already inserted: not counted again, no latency.
            return
        metrics.record_insert(spec.name, data.num_rows, seconds, now)
        for source_ms in source_times_ms(spec, data, LATENCY_SAMPLE):
            metrics.observe_end_to_end(spec.name, source_ms, now)


class Observers:
    """Tells several observers about every insert, in order."""

    def __init__(self, *observers: InsertObserver) -> None:
        self.observers = observers

    def inserted(
        self, spec: TableSpec, data: pa.Table, seconds: float, attempt: int, recovered: bool
    ) -> None:
        for observer in self.observers:
            observer.inserted(spec, data, seconds, attempt, recovered)
