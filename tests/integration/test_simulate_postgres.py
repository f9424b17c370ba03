"""`govbus simulate --via postgres`: the simulator writes the departments' own PostgreSQL tables
with SQL, and the stock Debezium connector (added for each declared table) carries what was
committed to the raw topics."""

from __future__ import annotations

import re
import time

from govbus.wiring import registry
from ops.access import ADMIN_PRINCIPAL
from ops.kafka_client import as_principal, kafka_config
from ops.settings import Settings
from ops.stack.postgres import PostgresServer
from tests.integration.test_cdc_debezium import _govbus, cdc
from topics.catalog import catalog_for
from topics.cdc import DEPARTMENT_TABLES
from topics.reader import TopicReader

__all__ = ["cdc"]


def _debezium_events(settings: Settings, source: str) -> int:
    admin = as_principal(settings, ADMIN_PRINCIPAL)
    reader = TopicReader(kafka_config(admin), registry(admin),
                         catalog_for(settings).raw(source).name)
    return sum(1 for m in reader.messages(idle_timeout_s=2.0) if m.value is not None
               and m.value.get("source", {}).get("connector") == "postgresql")


def test_the_simulator_writes_department_tables_that_debezium_carries(
    cdc: tuple[Settings, PostgresServer],
) -> None:
    settings, postgres = cdc
    for table in DEPARTMENT_TABLES:  # the fixture's narrower resident table goes
        postgres.ensure_database(table.database)
        postgres.sql(f"DROP TABLE IF EXISTS {table.table}", table.database)
    try:
        said = _govbus(settings, "simulate", "--via", "postgres", "--rate", "40",
                       "--duration", "3", "--population", "20", "--seed", "5")
        committed = int(re.search(r"(\d+) committed", said).group(1))  # type: ignore[union-attr]
        assert committed > 0, said
        rows = {t.source: int(postgres.sql(f"SELECT count(*) FROM {t.table}", t.database))
                for t in DEPARTMENT_TABLES}
        assert all(rows.values()), rows  # every department's table holds rows now
        deadline = time.monotonic() + 120
        while True:
            carried = {source: _debezium_events(settings, source) for source in rows}
            # Each row still in a table was inserted once at least; deletes and updates add more.
            if all(carried[s] >= rows[s] for s in rows) or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert all(carried[s] >= rows[s] for s in rows), (
            carried, rows, _govbus(settings, "connect", "list"))
        assert sum(carried.values()) <= committed
    finally:
        for table in DEPARTMENT_TABLES[1:]:
            _govbus(settings, "connect", "remove", table.source)
