"""The Connect worker killed (SIGKILL) mid-stream and restarted: the connector resumes from
its last flushed offset and sends some changes again; the raw layer's row tables take each
row's changes once, so the theme library holds every row once and nothing else.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ops.http import targets
from ops.settings import Settings
from ops.stack.connect import ConnectWorker
from ops.stack.postgres import PostgresServer
from streams.stages.masking.pseudonym import Pseudonymizer
from tests.integration.sinks.harness import SinkRun, child_env, running
from tests.integration.test_cdc_debezium import SOURCE, TABLE, _govbus, _read, cdc
from tests.integration.test_cdc_theme import DDL, _apply, resident
from tests.integration.workers import running_worker
from topics.codes.citizen_id import make_citizen_id
from topics.codes.sex import SexCode

__all__ = ["cdc"]
ROWS = 240
KILL_AT = 120


def _person(i: int) -> tuple[str, dict[str, object]]:
    id_number = make_citizen_id("340104", dt.date(1970, 1, 1) + dt.timedelta(days=37 * i),
                                i % 400, SexCode.MALE if i % 2 else SexCode.FEMALE)
    return id_number, resident(f"K{i:05d}", id_number, "赵钱孙", "1" if i % 2 else "2",
                               f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}",
                               "340104", "安徽省合肥市蜀山区长江西路1号", "13700001234")


def _running_tasks(settings: Settings) -> float | None:
    """The sink's ``govbus_cdc_connector_tasks`` of the resident table, running."""
    for target in targets(settings.state_dir):
        for family in text_string_to_metric_families(httpx.get(target.metrics_url).text):
            for sample in family.samples:
                if sample.name == "govbus_cdc_connector_tasks" and sample.labels == {
                        "table": SOURCE, "outcome": "running"}:
                    return sample.value
    return None


def test_a_killed_connect_worker_loses_and_doubles_nothing_in_the_theme_library(
    cdc: tuple[Settings, PostgresServer], tmp_path: Path, pseudonymizer: Pseudonymizer,
) -> None:
    settings, postgres = cdc
    postgres.sql(DDL, TABLE.database)
    assert "RUNNING (1/1 tasks)" in _govbus(settings, "connect", "add", SOURCE)
    people = [_person(i) for i in range(ROWS)]
    sink_settings = settings.model_copy(update={
        "state_dir": tmp_path / "sink", "access_dir": settings.access_folder,
        "sink_batch_rows": 150, "sink_batch_seconds": 0.2})
    # The sink measures the connector's tasks (its monitors every 2 s, Connect's REST port).
    sink = SinkRun(sink_settings, child_env(
        sink_settings, GOVBUS_CONNECT_REST_PORT=str(settings.connect_rest_port),
        GOVBUS_PRIVACY_MONITOR_SECONDS="2"), tmp_path / "sink.log")
    connect = ConnectWorker(settings)
    with running_worker(settings, tmp_path / "worker.log", "--role", "all"), running(sink):
        for i, (_, row) in enumerate(people):
            _apply(postgres, "c", None, row)
            if i == KILL_AT:
                pid = connect.process.pid()
                assert pid is not None
                os.killpg(pid, signal.SIGKILL)  # the JVM and nothing gentler
                while connect.process.pid() is not None:
                    time.sleep(0.1)
            time.sleep(0.01)
        # Rows committed while the worker was away wait in the replication slot.
        connect.start()
        expected = sorted(pseudonymizer(id_number) for id_number, _ in people)
        live = "SELECT person_key FROM govbus.theme_individual FINAL WHERE is_deleted = 0"
        person_facts = ("SELECT entity_key, count() AS n FROM govbus.facts "
                        "WHERE category = 'individual' GROUP BY entity_key")
        sink.wait(lambda: len(sink.rows(live)) >= ROWS and len(sink.rows(person_facts)) >= ROWS,
                  "every row in the theme library and the facts", 300)
        keys = sorted(r["person_key"] for r in sink.rows(live + " ORDER BY person_key"))
        # A change sent again after the restart is judged by its row (same position): no
        # second fact, so each person's one insert is one fact and one profile revision.
        facts = sink.rows(person_facts)
        sink.wait(lambda: _running_tasks(sink_settings) == 1.0,
                  "the sink's gauge to count the restarted connector's task running")
        versions = {r["version"] for r in sink.rows(
            "SELECT version FROM govbus.theme_individual FINAL")}
    # Every insert reached the raw topic; those after the last offset flush (one a second)
    # before the kill, twice (27 of 240 in one run).
    assert len([m for m in _read(settings, ROWS) if m.value is not None]) >= ROWS
    assert keys == expected
    assert sorted(r["entity_key"] for r in facts) == expected
    assert {r["n"] for r in facts} == {1}
    assert versions == {1}
