"""Change data capture end to end on the real stack: a department's PostgreSQL table carried by
the stock Debezium connector (`govbus connect add`), the raw worker (`govbus worker --role
all`) reading Debezium's own events, and the sink (`govbus sink run`) landing the theme
library. The theme rows equal what the same changes, published through the SDK in a second
namespace, produce; and no clear personal data is in std, fact or theme.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from govbus.wiring import publishers, topic_admin
from ops.settings import Settings
from ops.stack.postgres import PostgresServer
from streams.stages.masking.pseudonym import Pseudonymizer
from tests.integration.namespaces import fresh_namespace, tear_down
from tests.integration.sinks.harness import SinkRun, child_env, running
from tests.integration.test_cdc_debezium import SOURCE, TABLE, _govbus, _read, cdc
from tests.integration.workers import read_topic, running_worker
from topics.annotations import Category
from topics.catalog import catalog_for, catalog_in
from topics.codes.citizen_id import make_citizen_id, upgrade_legacy_id
from topics.codes.sex import SexCode

__all__ = ["cdc"]  # the fixture, shared with the raw-topic test

# The department's whole resident table, under its own column names.
DDL = f"""
DROP TABLE IF EXISTS {TABLE.table};
CREATE TABLE {TABLE.table} (
    rybh text PRIMARY KEY, gmsfhm text, xm text, xb text, csrq date, mz text, xzqh text,
    zz text, lxdh text, zt text, djrq timestamp
);
ALTER TABLE {TABLE.table} REPLICA IDENTITY FULL;
"""
COLUMN_OF = {field: column for column, field in TABLE.renames.items()}

WITH_X = "11010519491231002X"  # an ID with an X check character
LEGACY = "110101750312041"  # a 15-digit legacy ID
PLAIN = make_citizen_id("340104", dt.date(1980, 5, 6), 17, SexCode.MALE)


def resident(rid: str, id_number: str, name: str, sex: str, birth: str, division: str,
             address: str, phone: str | None) -> dict[str, Any]:
    return {"resident_id": rid, "id_number": id_number, "name": name, "sex": sex,
            "birth_date": birth, "ethnicity": "01", "division_code": division,
            "address": address, "phone": phone, "status": "正常",
            "registered_date": "2001-03-04 05:06:07"}


R1 = resident("R1", WITH_X, "张三丰", "2", "1949-12-31", "110105", "北京市朝阳区建国路88号", None)
R2 = resident("R2", LEGACY, "李四光", "1", "1975-03-12", "110101", "北京市东城区东长安街1号",
              "13812345678")
R3 = resident("R3", PLAIN, "王五岳", "1", "1980-05-06", "340104", "安徽省合肥市蜀山区长江西路1号",
              "13700001234")
R3_MOVED = {**R3, "address": "安徽省合肥市蜀山区长江西路9号"}
R1_PHONE = {**R1, "phone": "13900001111"}
# In commit order; R1's is read by the connector's snapshot, the rest are streamed. R1 changes
# last, so its final state in the library says every change got there.
STREAMED: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = [
    ("c", None, R2), ("c", None, R3), ("u", R3, R3_MOVED), ("d", R3_MOVED, None),
    ("u", R1, R1_PHONE),
]
CLEAR = (WITH_X, LEGACY, PLAIN, "张三丰", "李四光", "王五岳", "13812345678", "13700001234",
         "13900001111", "建国路88号")
FULL_ID = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
# A topic's schema is the same in every namespace.
INDIVIDUAL_SCHEMA = catalog_in("").theme(Category.INDIVIDUAL).value_schema()  # type: ignore[misc]
THEME_COLUMNS = [f["name"] for f in INDIVIDUAL_SCHEMA["fields"]
                 if f["name"] not in ("updated_ms", "deleted")]


def literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _sql_values(row: dict[str, Any]) -> str:
    return ", ".join(literal(row.get(field)) for field in COLUMN_OF)


def _apply(postgres: PostgresServer, op: str, before: dict[str, Any] | None,
           after: dict[str, Any] | None) -> None:
    columns = ", ".join(COLUMN_OF.values())
    if op == "c":
        assert after is not None
        sql = f"INSERT INTO {TABLE.table} ({columns}) VALUES ({_sql_values(after)})"
    elif op == "u":
        assert after is not None
        sql = (f"UPDATE {TABLE.table} SET ({columns}) = ({_sql_values(after)}) "
               f"WHERE rybh = {literal(after['resident_id'])}")
    else:
        assert before is not None
        sql = f"DELETE FROM {TABLE.table} WHERE rybh = {literal(before['resident_id'])}"
    postgres.sql(sql, TABLE.database)


def _library(run: SinkRun) -> list[dict[str, Any]]:
    return run.rows(f"SELECT {', '.join(THEME_COLUMNS)} FROM govbus.theme_individual FINAL "
                    "ORDER BY person_key")


def _settled(run: SinkRun, keys: dict[str, str]) -> bool:
    """Every change is in: R3's person deleted, R1's last phone, R2 there."""
    deleted = {r["person_key"] for r in run.rows(
        "SELECT person_key FROM govbus.theme_individual WHERE is_deleted = 1")}
    live = {r["person_key"]: r for r in _library(run)}
    return (keys["R3"] in deleted and keys["R2"] in live and keys["R1"] in live
            and live[keys["R1"]]["phone_masked"] == "139****1111")


def _theme_of(settings: Settings, namespace_dir: Path, keys: dict[str, str]
              ) -> tuple[list[dict[str, Any]], str]:
    """Runs the raw worker and the sink in the settings' namespace until the library settles;
    the library's rows and every std and fact message as text."""
    namespace_dir.mkdir(parents=True, exist_ok=True)
    # The namespace's own sink group (granted with its topics), in a chDB folder of its own.
    sink_settings = settings.model_copy(update={
        "state_dir": namespace_dir / "sink", "access_dir": settings.access_folder,
        "sink_batch_rows": 150, "sink_batch_seconds": 0.2})
    worker_log = namespace_dir / "worker.log"
    run = SinkRun(sink_settings, child_env(sink_settings), namespace_dir / "sink.log")
    with running_worker(settings, worker_log, "--role", "all"), running(run):
        run.wait(lambda: _settled(run, keys), "every change in the theme library", 240)
        rows = _library(run)
    catalog = catalog_for(settings)
    published = [catalog.std(SOURCE).name, *(catalog.fact(c).name for c in Category)]
    text = json.dumps([[m.key, m.value] for name in published
                       for m in read_topic(settings, name)],
                      ensure_ascii=False, default=str)
    return rows, text


def test_cdc_changes_reach_the_theme_library_as_sdk_published_ones_do(
    cdc: tuple[Settings, PostgresServer], tmp_path: Path, pseudonymizer: Pseudonymizer,
) -> None:
    settings, postgres = cdc
    keys = {"R1": pseudonymizer(WITH_X), "R2": pseudonymizer(upgrade_legacy_id(LEGACY)),
            "R3": pseudonymizer(PLAIN)}
    postgres.sql(DDL, TABLE.database)
    _apply(postgres, "c", None, R1)  # read by the snapshot
    added = _govbus(settings, "connect", "add", SOURCE)
    assert "RUNNING (1/1 tasks)" in added, added
    for step, (op, before, after) in enumerate(STREAMED):
        if step == 2:
            # The department adds a column mid-stream: the connector registers a new schema
            # version, the raw layer leaves the undeclared column out, and nothing is lost.
            postgres.sql(f"ALTER TABLE {TABLE.table} ADD COLUMN bz text DEFAULT '迁入登记'",
                         TABLE.database)
        _apply(postgres, op, before, after)

    # Debezium's positions of each change: the SDK publishes the same ones.
    events = [m.value for m in _read(settings, 1 + len(STREAMED) + 1) if m.value is not None]
    snapshot = [e for e in events if e["op"] == "r"]
    streamed = sorted((e for e in events if e["op"] != "r"), key=lambda e: e["source"]["lsn"])
    assert len(snapshot) == 1 and len(streamed) == len(STREAMED), events
    positions = [(e["source"]["lsn"], e["source"]["ts_ms"]) for e in [*snapshot, *streamed]]

    cdc_rows, cdc_text = _theme_of(settings, tmp_path / "cdc", keys)
    assert read_topic(settings, catalog_for(settings).dlq("standardize").name) == []
    assert "迁入登记" not in cdc_text

    sdk_settings = fresh_namespace(settings)
    try:
        topic_admin(sdk_settings).apply(catalog_for(sdk_settings).all)
        sdk = publishers(sdk_settings, [SOURCE])[SOURCE]
        for (op, before, after), (lsn, ts_ms) in zip(
                [("r", None, R1), *STREAMED], positions, strict=True):
            sdk.publish(op, before=before, after=after, sequence=str(lsn), source_ts_ms=ts_ms)
        assert not sdk.flush(30).errors
        sdk_rows, _ = _theme_of(sdk_settings, tmp_path / "sdk", keys)
    finally:
        tear_down(sdk_settings)

    assert [r["person_key"] for r in cdc_rows] == sorted([keys["R1"], keys["R2"]])
    assert cdc_rows == sdk_rows
    theme_text = json.dumps(cdc_rows, ensure_ascii=False)
    for published in (cdc_text, theme_text):
        assert not FULL_ID.findall(published)
        assert [value for value in CLEAR if value in published] == []
