"""The latency tools: pacing, percentiles, the insert-time recorder and the reader's poll."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa

from govbus.bench.latency import (
    LatencyLog,
    LatencyRecorder,
    percentile,
    poll_latency,
    publish_at_rate,
    read_latency_log,
    summarize,
)
from sinks.clickhouse.ddl import TableKind, TableSpec
from sinks.instrumentation import Observers
from topics.schemas import load_avsc


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) == 0.0
    result = summarize([0.3, 0.1, 0.2], rate=10, published=4)
    assert (result.seen, result.p50_s, result.max_s) == (3, 0.2, 0.3)
    assert "3 of 4 events" in result.lines("x")[0]


def test_publish_at_rate_keeps_the_schedule() -> None:
    stamps: list[int] = []
    started = time.perf_counter()
    sent = publish_at_rate(lambda i, ts: stamps.append(ts), rate=200, duration_s=0.25)
    elapsed = time.perf_counter() - started
    assert sent == 50 == len(stamps)
    assert 0.2 < elapsed < 0.6
    assert stamps == sorted(stamps)


def test_recorder_measures_ack_minus_source_time() -> None:
    spec = TableSpec(
        name="f",
        schema=load_avsc("quality/finding.avsc"),
        kind=TableKind.EVENT,
        order_by=("finding_id",),
        source_time_column="source_ts_ms",
    )
    now_ms = time.time_ns() // 1_000_000
    recorder = LatencyRecorder(since_ms=now_ms - 10_000)
    data = pa.table({"source_ts_ms": pa.array([now_ms - 250, now_ms - 20_000], pa.int64())})
    recorder.inserted(spec, data, 0.01, 1, False)
    recorder.inserted(spec, data, 0.01, 1, True)  # recovered: not a new row
    (latency,) = recorder.latencies_s  # the row from before the run is left out
    assert 0.2 < latency < 2


def test_poll_sees_each_row_once() -> None:
    now_ms = time.time_ns() // 1_000_000
    answers = [
        [{"t": "x", "p": 0, "o": "1", "s": now_ms - 100}],
        [{"t": "x", "p": 0, "o": "1", "s": now_ms - 100},
         {"t": "x", "p": 0, "o": "2", "s": now_ms - 50}],
    ]
    asked: list[str] = []

    def query(sql: str) -> bytes:
        asked.append(sql)
        rows = answers[min(len(asked), len(answers)) - 1]
        return "\n".join(json.dumps(r) for r in rows).encode()

    latencies = poll_latency(query, "db.t", "source_ts_ms", now_ms - 1000, expected=2,
                             timeout_s=5, interval_s=0.01)
    assert len(latencies) == 2 and all(0 < v < 2 for v in latencies)
    assert "source_ts_ms >= " in asked[0]


def test_latency_log_keeps_profile_rows_and_reads_back_both_latencies(tmp_path: Path) -> None:
    profile = TableSpec(name="theme_thing", schema=load_avsc("theme/thing.avsc"),
                        kind=TableKind.PROFILE, order_by=("thing_key",),
                        source_time_column="source_ts_ms")
    facts = TableSpec(name="facts", schema=load_avsc("fact/fact.avsc"), kind=TableKind.EVENT,
                      order_by=("entity_key",), source_time_column="source_ts_ms")
    now_ms = time.time_ns() // 1_000_000
    data = pa.table({"source_ts_ms": pa.array([now_ms - 900, now_ms - 60_000], pa.int64()),
                     "updated_ms": pa.array([now_ms - 600, now_ms - 59_000], pa.int64())})
    path = tmp_path / "run" / "latency.jsonl"
    recorder = LatencyRecorder(since_ms=now_ms - 10_000)
    observer = Observers(LatencyLog(path), recorder)
    observer.inserted(profile, data, 0.01, 1, False)
    observer.inserted(facts, data, 0.01, 1, False)  # not a profile table: not logged
    observer.inserted(profile, data, 0.01, 2, True)  # recovered: not a new row
    queryable, rendered = read_latency_log(path, since_ms=now_ms - 10_000)
    assert len(queryable) == len(rendered) == 1  # the row from before the run is left out
    assert 0.8 < queryable[0] < 5 and rendered == [0.3]
    assert len(recorder.latencies_s) == 2  # both observers were told (facts included)
    assert read_latency_log(tmp_path / "none.jsonl", 0) == ([], [])
