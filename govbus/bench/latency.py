"""End-to-end latency: source time -> row queryable in ClickHouse, at a fixed publish rate.

Two ways to see a row arrive, both measured against the row's own source time (the theme
record's ``source_ts_ms``, which the pipeline carries from the department's change):

- ``LatencyRecorder``: an insert observer inside the sink process; a row is queryable once
  its insert is acknowledged (MergeTree rows are visible to the next query), so
  ``ack time - source time`` is the latency. Used by the sink-stage benchmark.
- ``LatencyLog``: the same in a separate sink process, written to a file (one line per
  acknowledged profile-table insert) and read by ``read_latency_log`` after the run. Used
  for the whole pipeline: polling the engine for new rows instead cost the sink process
  ~20% of a core at 10 polls/s on this 2-core machine, so the measurement loaded what it
  measured.
- ``poll_latency``: from outside, through the query endpoint (or any read-only query
  function), polling for rows with source time past the run's start; a row's latency is the
  time of the first poll that sees it minus its source time (over-estimated by at most one
  poll interval plus the query's own time). Used by ``govbus bench latency``.

``publish_at_rate`` paces any publish function to a fixed rate, stamping each event with the
wall-clock time it is sent at.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.sql import quote_identifier
from sinks.instrumentation import epoch_ms, source_times_ms


@dataclass(frozen=True, slots=True)
class LatencyResult:
    rate: float
    published: int
    seen: int
    p50_s: float
    p99_s: float
    max_s: float

    def lines(self, what: str) -> list[str]:
        return [
            f"{what}: {self.seen:,} of {self.published:,} events at {self.rate:,.0f}/s",
            f"  latency p50 {self.p50_s * 1000:,.0f} ms, p99 {self.p99_s * 1000:,.0f} ms, "
            f"max {self.max_s * 1000:,.0f} ms",
        ]


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(share * len(sorted_values))))
    return sorted_values[rank - 1]


def summarize(latencies_s: Iterable[float], rate: float, published: int) -> LatencyResult:
    ordered = sorted(latencies_s)
    return LatencyResult(
        rate,
        published,
        len(ordered),
        percentile(ordered, 0.50),
        percentile(ordered, 0.99),
        ordered[-1] if ordered else 0.0,
    )


def publish_at_rate(
    publish: Callable[[int, int], None],
    rate: float,
    duration_s: float,
    stop: threading.Event | None = None,
) -> int:
    """Call ``publish(i, source_ts_ms)`` ``rate`` times a second for ``duration_s``; the
    pacing is by absolute schedule, so a slow call is caught up, not accumulated."""
    total = int(rate * duration_s)
    started = time.perf_counter()
    for i in range(total):
        if stop is not None and stop.is_set():
            return i
        due = started + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        publish(i, time.time_ns() // 1_000_000)
    return total


class LatencyRecorder:
    """Insert observer: ``ack - source time`` of every row whose source time is at or after
    ``since_ms`` (rows of earlier runs and recovered inserts are left out)."""

    def __init__(self, since_ms: int) -> None:
        self.since_ms = since_ms
        self.latencies_s: list[float] = []
        self._lock = threading.Lock()

    def inserted(
        self, spec: TableSpec, data: pa.Table, seconds: float, attempt: int, recovered: bool
    ) -> None:
        if recovered:
            return
        now_ms = time.time_ns() / 1_000_000
        fresh = [(now_ms - ms) / 1000 for ms in source_times_ms(spec, data) if ms >= self.since_ms]
        with self._lock:
            self.latencies_s.extend(fresh)


class LatencyLog:
    """Insert observer: per acknowledged insert into a profile table, one JSON line with the
    ack time and each row's source time and render time (``updated_ms``: when the theme
    stage made the record)."""

    RENDERED = "updated_ms"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def inserted(
        self, spec: TableSpec, data: pa.Table, seconds: float, attempt: int, recovered: bool
    ) -> None:
        if recovered or not spec.is_profile or spec.source_time_column is None:
            return
        ack_ms = time.time_ns() // 1_000_000
        source = epoch_ms(data.column(spec.source_time_column))
        rendered = (epoch_ms(data.column(self.RENDERED))
                    if self.RENDERED in data.column_names else [None] * len(source))
        line = json.dumps({"table": spec.name, "ack_ms": ack_ms,
                           "insert_ms": round(seconds * 1000, 1), "source_ms": source,
                           "rendered_ms": rendered})
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


def read_latency_log(path: Path, since_ms: int) -> tuple[list[float], list[float]]:
    """(source -> queryable, source -> rendered) in seconds, for rows with source time at or
    after ``since_ms``, from a ``LatencyLog`` file (empty lists if there is none yet)."""
    queryable: list[float] = []
    rendered: list[float] = []
    if not path.exists():
        return queryable, rendered
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        for source, made in zip(entry["source_ms"], entry["rendered_ms"], strict=True):
            if source is None or source < since_ms:
                continue
            queryable.append((entry["ack_ms"] - source) / 1000)
            if made is not None:
                rendered.append((made - source) / 1000)
    return queryable, rendered


def poll_latency(
    query: Callable[[str], bytes],
    table: str,
    source_time_sql: str,
    since_ms: int,
    expected: int,
    timeout_s: float,
    interval_s: float = 0.05,
) -> list[float]:
    """Latencies of rows as a reader sees them appear. ``query`` runs SQL and returns the
    engine's JSONEachRow (e.g. the query endpoint); ``source_time_sql`` gives epoch ms
    (``tables.epoch_ms_expression``)."""
    seen: set[tuple[str, int, int]] = set()
    latencies: list[float] = []
    position = quote_identifier("_offset")
    deadline = time.monotonic() + timeout_s
    while len(seen) < expected and time.monotonic() < deadline:
        asked = time.time_ns() / 1_000_000
        body = query(
            f"SELECT _topic AS t, _partition AS p, {position} AS o, "
            f"toInt64({source_time_sql}) AS s FROM {table} WHERE {source_time_sql} >= {since_ms}"
        )
        answered = time.time_ns() / 1_000_000
        for line in body.decode("utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            ident = (str(row["t"]), int(row["p"]), int(row["o"]))
            if ident not in seen:
                seen.add(ident)
                # Seen somewhere between asking and the answer: count the midpoint.
                latencies.append(((asked + answered) / 2 - int(row["s"])) / 1000)
        time.sleep(interval_s)
    return latencies
