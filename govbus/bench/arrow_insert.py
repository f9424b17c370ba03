"""Bare sink throughput: Arrow build and Arrow insert into chDB for N quality findings.

Figures come with a bare-loop baseline from the same run (a Python loop touching every field
of every row), so a slow machine shows up as such rather than as a slow sink.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from sinks.clickhouse.arrow_batch import ArrowBatchBuilder
from sinks.clickhouse.backend import ClickHouseBackend
from sinks.clickhouse.ddl import TableKind, TableSpec
from sinks.clickhouse.schema_manager import SchemaManager
from sinks.clickhouse.sql import quote_identifier
from topics.schemas import load_avsc

BENCH_DATABASE = "govbus_bench"
QUALITY_SCHEMA = "quality/finding.avsc"


@dataclass(frozen=True, slots=True)
class SinkBench:
    rows: int
    batch_rows: int
    inserts: int
    build_rows_per_s: float
    insert_rows_per_s: float
    end_to_end_rows_per_s: float
    single_row_insert_ms: float
    baseline_loop_rows_per_s: float

    def lines(self) -> list[str]:
        return [
            f"rows {self.rows:,} in {self.inserts} inserts of {self.batch_rows:,}",
            f"arrow build      {self.build_rows_per_s:>12,.0f} rows/s",
            f"arrow insert     {self.insert_rows_per_s:>12,.0f} rows/s",
            f"build + insert   {self.end_to_end_rows_per_s:>12,.0f} rows/s",
            f"1-row insert     {self.single_row_insert_ms:>12.1f} ms (fixed cost per insert)",
            f"bare field loop  {self.baseline_loop_rows_per_s:>12,.0f} rows/s (baseline)",
        ]


def bench_sink(
    rows: int = 100_000,
    batch_rows: int = 10_000,
    backend: ClickHouseBackend | None = None,
) -> SinkBench:
    """Insert ``rows`` synthetic quality findings in batches of ``batch_rows``.

    Without a backend a throwaway chDB folder is used (chDB allows one folder per process,
    so pass the process's backend when one is already open).
    """
    if rows < 1 or batch_rows < 1:
        raise ValueError("rows and batch_rows must be positive")
    if backend is not None:
        return _bench(backend, rows, batch_rows)
    from sinks.clickhouse.chdb_backend import ChdbBackend

    with tempfile.TemporaryDirectory(prefix="sink-bench-") as folder:
        own = ChdbBackend(Path(folder))
        try:
            return _bench(own, rows, batch_rows)
        finally:
            own.close()


def _bench(backend: ClickHouseBackend, rows: int, batch_rows: int) -> SinkBench:
    spec = TableSpec(
        name=f"finding_{time.time_ns()}",
        schema=load_avsc(QUALITY_SCHEMA),
        kind=TableKind.EVENT,
        order_by=("dept", "detected_ms", "finding_id"),
        database=BENCH_DATABASE,
    )
    SchemaManager(backend).ensure_table(spec)
    try:
        records = [_sample(spec, i) for i in range(rows)]
        builder = ArrowBatchBuilder(spec)
        builder.build(records[:1], "bench", 0, [0], 0)  # pyarrow's first conversion warms up

        started = time.perf_counter()
        tables: list[pa.Table] = []
        for first in range(0, rows, batch_rows):
            chunk = records[first : first + batch_rows]
            offsets = list(range(first, first + len(chunk)))
            tables.append(builder.build(chunk, "bench", 0, offsets, 1))
        build_s = time.perf_counter() - started

        started = time.perf_counter()
        for number, table in enumerate(tables):
            backend.insert_arrow(spec.qualified_name, table, f"bench/{number}")
        insert_s = time.perf_counter() - started

        one = builder.build(records[:1], "bench", 1, [0], 1)
        started = time.perf_counter()
        for attempt in range(5):
            backend.insert_arrow(spec.qualified_name, one, f"bench/one/{attempt}")
        single_ms = (time.perf_counter() - started) / 5 * 1000

        names = [c.source_field for c in spec.columns if c.source_field]
        started = time.perf_counter()
        touched = 0
        for record in records:
            for name in names:
                touched += record.get(name) is not None
        baseline_s = time.perf_counter() - started
    finally:
        backend.execute(f"DROP TABLE IF EXISTS {spec.qualified_name}")
        backend.execute(f"DROP DATABASE IF EXISTS {quote_identifier(BENCH_DATABASE)}")
    return SinkBench(
        rows=rows,
        batch_rows=batch_rows,
        inserts=len(tables),
        build_rows_per_s=rows / build_s,
        insert_rows_per_s=rows / insert_s,
        end_to_end_rows_per_s=rows / (build_s + insert_s),
        single_row_insert_ms=single_ms,
        baseline_loop_rows_per_s=rows / baseline_s if touched else 0.0,
    )


def _sample(spec: TableSpec, i: int) -> dict[str, Any]:
    """A record of any flat schema: values vary a little, like codes and ids do."""
    record: dict[str, Any] = {}
    for column in spec.columns:
        if column.source_field is None:
            continue
        arrow = column.type.arrow
        if pa.types.is_string(arrow):
            record[column.source_field] = f"{column.source_field}-{i % 97}-{i}"
        elif pa.types.is_integer(arrow):
            record[column.source_field] = 1_700_000_000_000 + i
        elif pa.types.is_floating(arrow):
            record[column.source_field] = i / 7
        elif pa.types.is_boolean(arrow):
            record[column.source_field] = i % 2 == 0
        elif pa.types.is_timestamp(arrow):
            record[column.source_field] = dt.datetime.fromtimestamp(1_700_000_000 + i, dt.UTC)
        else:
            record[column.source_field] = None
    return record
