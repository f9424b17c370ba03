"""Change data capture on the real stack: a department's PostgreSQL table, the stock Debezium
connector registered with `govbus connect add`, and Debezium's own events read back from the
source's raw topic as the admin, decoded through the registry like every topic.

The Connect worker runs in the test's topic namespace (its own storage topics, group and REST
port), as the principal `connect` with the grants `topics apply` gave it there.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from govbus.wiring import registry, topic_admin
from ops.access import ADMIN_PRINCIPAL
from ops.kafka_client import as_principal, kafka_config
from ops.settings import Settings
from ops.stack.connect import ConnectWorker
from ops.stack.postgres import PostgresServer
from tests.integration.ops.conftest import free_port
from tests.integration.workers import namespace_env
from topics.catalog import catalog_for
from topics.cdc import department_table
from topics.reader import ReadMessage, TopicReader

SOURCE = "household.resident"
TABLE = department_table(SOURCE)
EPOCH = date(1970, 1, 1)
# The department's own table: pinyin-initial column names (the declaration renames them),
# real types whose Debezium logical types the raw layer must read.
DDL = f"""
DROP TABLE IF EXISTS {TABLE.table};
CREATE TABLE {TABLE.table} (
    rybh   text PRIMARY KEY,
    gmsfhm text,
    xm     text,
    csrq   date,
    lxdh   text,
    djrq   timestamp,
    fy     numeric(10, 2),
    jf     numeric
);
-- Full before images: the raw layer retracts what an update or delete takes away.
ALTER TABLE {TABLE.table} REPLICA IDENTITY FULL;
"""


@pytest.fixture
def cdc(settings: Settings) -> Iterator[tuple[Settings, PostgresServer]]:
    settings = settings.model_copy(update={"connect_rest_port": free_port()})
    admin = as_principal(settings, ADMIN_PRINCIPAL)
    topic_admin(admin).apply(catalog_for(settings).all)
    postgres = PostgresServer(settings)
    started_postgres = postgres.process.pid() is None
    postgres.start()
    worker = ConnectWorker(settings)
    worker.start()
    try:
        postgres.ensure_database(TABLE.database)
        postgres.sql(DDL, TABLE.database)
        yield settings, postgres
    finally:
        try:
            _govbus(settings, "connect", "remove", SOURCE)
        finally:
            worker.stop()
            if started_postgres:
                postgres.stop()


def _govbus(settings: Settings, *args: str) -> str:
    env = namespace_env(settings, GOVBUS_CONNECT_REST_PORT=str(settings.connect_rest_port))
    result = subprocess.run([sys.executable, "-m", "govbus.cli", *args], env=env,
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _read(settings: Settings, wanted: int, timeout_s: float = 60.0) -> list[ReadMessage]:
    admin = as_principal(settings, ADMIN_PRINCIPAL)
    deadline = time.monotonic() + timeout_s
    while True:
        reader = TopicReader(kafka_config(admin), registry(admin),
                             catalog_for(settings).raw(SOURCE).name)
        messages = list(reader.messages(idle_timeout_s=2.0))
        if len(messages) >= wanted or time.monotonic() > deadline:
            return sorted(messages, key=lambda m: (m.partition, m.offset))
        time.sleep(1.0)


def _days(text: str) -> int:
    return (date.fromisoformat(text) - EPOCH).days


def _micros(text: str) -> int:
    return int((datetime.fromisoformat(text) - datetime(1970, 1, 1)).total_seconds() * 1_000_000)


def test_debezium_events_of_a_department_table_reach_its_raw_topic(
    cdc: tuple[Settings, PostgresServer],
) -> None:
    settings, postgres = cdc
    db = TABLE.database
    # Before the connector: read by its snapshot (op=r).
    postgres.sql(f"INSERT INTO {TABLE.table} VALUES ('R1', '11010519491231002X', '张三', "
                 "'1949-12-31', NULL, '2024-01-02 03:04:05.123456', 12.34, 3.14159)", db)

    added = _govbus(settings, "connect", "add", SOURCE)
    assert f"-> {catalog_for(settings).raw(SOURCE).name}" in added
    assert "RUNNING (1/1 tasks)" in added

    # Streamed: an ID with an X check character and a NULL phone, a 15-digit legacy ID,
    # an update and a delete.
    postgres.sql(f"INSERT INTO {TABLE.table} VALUES ('R2', '11010519900307123X', '李四', "
                 "'1990-03-07', NULL, '2024-05-06 07:08:09', 0.50, 100)", db)
    postgres.sql(f"INSERT INTO {TABLE.table} VALUES ('R3', '110105491231002', '王五', "
                 "'1949-12-31', '13812345678', '2024-05-06 07:08:09.000001', NULL, NULL)", db)
    postgres.sql(f"UPDATE {TABLE.table} SET lxdh = '13900001111', fy = 99.99 "
                 "WHERE rybh = 'R1'", db)
    postgres.sql(f"DELETE FROM {TABLE.table} WHERE rybh = 'R3'", db)

    # r(R1), c(R2), c(R3), u(R1), d(R3) and the delete's tombstone.
    messages = _read(settings, 6)
    assert all(m.error is None for m in messages), [m.error for m in messages]
    events = [(m.key["rybh"] if m.key else None, m.value) for m in messages]
    # One row's changes share a partition, in order; the table's spread over partitions.
    per_row: dict[str, list[str | None]] = {}
    for key, value in events:
        per_row.setdefault(str(key), []).append(value["op"] if value else None)
    assert per_row == {"R1": ["r", "u"], "R2": ["c"], "R3": ["c", "d", None]}, per_row
    by_op: dict[str, dict[str, Any]] = {v["op"]: v for _, v in events if v}

    read = by_op["r"]
    assert read["before"] is None
    assert read["after"]["gmsfhm"] == "11010519491231002X"
    assert read["after"]["csrq"] == _days("1949-12-31")  # io.debezium.time.Date: days
    assert read["after"]["djrq"] == _micros("2024-01-02 03:04:05.123456")  # MicroTimestamp
    assert read["after"]["fy"] == Decimal("12.34")  # Decimal bytes, scale 2
    assert read["after"]["jf"] == {"scale": 5, "value": (314159).to_bytes(3, "big")}
    assert read["source"]["snapshot"] in ("true", "last")

    created = {k: v["after"] for k, v in events if v and v["op"] == "c"}
    assert created["R2"]["gmsfhm"] == "11010519900307123X" and created["R2"]["lxdh"] is None
    assert created["R2"]["jf"] == {"scale": 0, "value": (100).to_bytes(1, "big")}
    assert created["R3"]["gmsfhm"] == "110105491231002"
    assert created["R3"]["fy"] is None and created["R3"]["jf"] is None

    update = by_op["u"]
    assert update["before"]["lxdh"] is None and update["before"]["fy"] == Decimal("12.34")
    assert update["after"]["lxdh"] == "13900001111" and update["after"]["fy"] == Decimal("99.99")

    delete = by_op["d"]
    assert delete["after"] is None and delete["before"]["gmsfhm"] == "110105491231002"

    streamed = sorted((v for _, v in events if v and v["op"] != "r"),
                      key=lambda v: v["source"]["lsn"])
    for value in streamed:
        source = value["source"]
        assert source["connector"] == "postgresql"
        assert (source["db"], source["schema"], source["table"]) == (
            db, TABLE.schema, TABLE.table)
        assert source["snapshot"] == "false"
        assert isinstance(source["txId"], int) and isinstance(source["lsn"], int)
    # The log position (lsn) orders the changes as the database committed them.
    assert [(v["after"] or v["before"])["rybh"] + v["op"] for v in streamed] == [
        "R2c", "R3c", "R1u", "R3d"]
    assert len({v["source"]["lsn"] for v in streamed}) == len(streamed)
    assert all(m.headers.get("__debezium.context.connectorName") == "postgresql"
               for m in messages if m.value is not None)
