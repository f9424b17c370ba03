"""The k-anonymity monitor of the sink: every few seconds, each theme library's classes over
its quasi-identifiers, counted on the live tables (the view ``v_k_anonymity``).

It runs in the sink, which owns the engine, in a thread of its own, so the consumer never
waits for it. Each measurement sets the gauges (smallest class, rows in classes below k, rows
per library) and, for a library with rows in classes below k, writes a quality finding
straight into ``quality_findings`` (the sink is the last hop; nothing downstream reads a
topic). Findings are written when a library's figures change, and at least hourly while it
stays below k, not at every measurement.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Final

from ops import metrics
from sinks.clickhouse.arrow_batch import ArrowBatchBuilder
from sinks.clickhouse.backend import BackendError, ClickHouseBackend
from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.kanon import (
    COLUMNS,
    KANON_REASON,
    KANON_VIEW,
    MONITOR_DEPT,
    PRIVACY_DIMENSION,
    KAnonymity,
    finding_record,
    parse_row,
)
from sinks.clickhouse.sql import qualified, quote_identifier

log = logging.getLogger(__name__)

# The _topic of the findings' rows: they come from no Kafka topic.
MONITOR_SOURCE: Final = "govbus.privacy-monitor"
REASSERT_S: Final = 3600.0


class KAnonymityMonitor:
    """Measures, publishes and records the libraries' k-anonymity."""

    def __init__(
        self,
        backend: ClickHouseBackend,
        database: str,
        quality: TableSpec,
        every_s: float,
        clock: Callable[[], float] = time.time,
        also: Sequence[Callable[[], object]] = (),
    ) -> None:
        self.backend = backend
        self.every_s = every_s
        self._view = qualified(database, KANON_VIEW)
        self._quality = quality
        self._builder = ArrowBatchBuilder(quality)
        self._clock = clock
        self._recorded: dict[str, tuple[KAnonymity, float]] = {}
        # Other measurements of the libraries that share this thread and period.
        self.also = tuple(also)
        self.last: list[KAnonymity] = []

    def measure(self) -> list[KAnonymity]:
        columns = ", ".join(quote_identifier(c) for c in COLUMNS)
        return [parse_row(row) for row in self.backend.query(
            f"SELECT {columns} FROM {self._view}").rows]

    def check(self) -> list[KAnonymity]:
        """One measurement: gauges set, findings written where due; returns the figures."""
        now = self._clock()
        results = self.measure()
        for result in results:
            table = result.library
            metrics.library_rows.labels(table=table).set(result.rows)
            metrics.library_small_class_rows.labels(table=table).set(result.rows_below_k)
            metrics.library_smallest_class_rows.labels(table=table).set(
                result.smallest_class or 0)
        due = [r for r in results if not r.anonymous and self._due(r, now)]
        if due:
            self._record(due, now)
        self.last = results
        return results

    def _due(self, result: KAnonymity, now: float) -> bool:
        previous = self._recorded.get(result.library)
        return previous is None or previous[0] != result or now - previous[1] >= REASSERT_S

    def _record(self, results: list[KAnonymity], now: float) -> None:
        now_ms = int(now * 1000)
        rows = [finding_record(r, now_ms) for r in results]
        table = self._builder.build(rows, MONITOR_SOURCE, 0, list(range(len(rows))), now_ms)
        self.backend.insert_arrow(self._quality.qualified_name, table)
        metrics.quality_findings.labels(
            dept=MONITOR_DEPT, dimension=PRIVACY_DIMENSION, reason=KANON_REASON
        ).inc(len(rows))
        for result in results:
            self._recorded[result.library] = (result, now)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Checks every ``every_s`` in a background thread while the block runs (none at 0)."""
        if self.every_s <= 0:
            yield
            return
        stop = threading.Event()
        thread = threading.Thread(target=self._loop, args=(stop,), name="kanon-monitor",
                                  daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=10)

    def _loop(self, stop: threading.Event) -> None:
        while True:
            for check in (self.check, *self.also):
                try:
                    check()
                except BackendError as exc:  # the engine busy or down: measured next time
                    log.warning("library check failed: %s", exc)
            if stop.wait(self.every_s):
                return
