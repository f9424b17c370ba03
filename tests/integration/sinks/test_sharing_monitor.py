"""Overdue subscription requests, counted on the real embedded engine (chDB)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ops import metrics
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.migration import migrate
from sinks.clickhouse.tables import sink_tables, subscriptions_table
from sinks.clickhouse.writer import ClickHouseWriter
from sinks.message import SinkMessage
from sinks.sharing_monitor import OverdueSubscriptions
from topics.catalog import catalog_in

DATABASE = "sharing"
NOW_MS = 1_800_000_000_000


def subscription(key: str, version: int, status: str, due_ms: int | None,
                 provider: str = "household") -> dict[str, Any]:
    return {
        "subscription_id": key, "resource_code": "30100102/88309",
        "topic": "std.household.resident", "provider": provider, "consumer": "civil",
        "purpose": "核验", "sharing": "有条件", "status": status, "reason": "",
        "decided_by": "", "requested_ms": NOW_MS - 10, "due_ms": due_ms, "decided_ms": None,
        "version": version, "source_ts_ms": NOW_MS,
    }


def test_requests_past_their_due_date_are_overdue_until_decided(tmp_path: Path) -> None:
    engine = ChdbBackend(tmp_path / "chdb")
    try:
        catalog = catalog_in("")
        migrate(engine, DATABASE, sink_tables(catalog, DATABASE))
        table = subscriptions_table(catalog, DATABASE)
        writer = ClickHouseWriter(engine, table.spec)
        [topic] = table.topics
        rows = [subscription("late", 1, "requested", NOW_MS - 1),
                subscription("fresh", 1, "requested", NOW_MS + 1),
                subscription("decided", 1, "requested", NOW_MS - 1),
                subscription("decided", 2, "granted", NOW_MS - 1),
                subscription("other", 1, "granted", None, provider="market")]
        for offset, row in enumerate(rows):
            writer.add(SinkMessage(topic, 0, offset, row["subscription_id"], row))
        writer.flush(force=True)
        monitor = OverdueSubscriptions(engine, table.spec, clock=lambda: NOW_MS / 1000)
        assert monitor.check() == {"household": 1, "market": 0}
        gauge = metrics.subscriptions_overdue.labels(dept="household")
        assert gauge._value.get() == 1
    finally:
        engine.close()


@pytest.fixture(autouse=True)
def _isolated_gauge() -> None:
    metrics.subscriptions_overdue.clear()
