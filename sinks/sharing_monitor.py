"""Overdue subscription requests, measured on the mirrored subscriptions table.

A 有条件 request waits for its provider, who must decide within 10 working days; the due time
is in the record. The sink mirrors the subscriptions topic and, beside the k-anonymity
measurement (same thread, same period), counts per provider the requests still waiting past
their due time: the gauge ``govbus_subscriptions_overdue_requests`` and the alert rule on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ops import metrics
from sinks.clickhouse.backend import ClickHouseBackend
from sinks.clickhouse.ddl import TableSpec


class OverdueSubscriptions:
    def __init__(self, backend: ClickHouseBackend, subscriptions: TableSpec,
                 clock: Callable[[], float] = time.time) -> None:
        """``subscriptions``: the mirrored subscriptions table."""
        self.backend = backend
        self._table = subscriptions.qualified_name
        self._clock = clock
        self._providers: set[str] = set()

    def check(self) -> dict[str, int]:
        """Overdue requests per provider (providers with none: 0); sets the gauge."""
        now_ms = int(self._clock() * 1000)
        rows = self.backend.query(
            f"SELECT provider, countIf(status = 'requested' AND due_ms < {now_ms}) "
            f"FROM {self._table} FINAL GROUP BY provider"
        ).rows
        found = {str(provider): int(count) for provider, count in rows}
        self._providers |= set(found)
        for provider in self._providers:
            metrics.subscriptions_overdue.labels(dept=provider).set(found.get(provider, 0))
        return found
