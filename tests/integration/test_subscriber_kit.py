"""The consuming department's whole path on the real broker, over SASL_SSL: the market
regulator requests the licence office's 有条件 std licences; the request waits, goes overdue
(the sink's monitor counts it); the licence office approves; the example faust app reads the
granted topic as ``consumer-market`` and prints its notices; the grant is revoked and the
app's next fetch is denied; every step is audited. On the way, the resource catalog is
published, browsed by the department and landed in its table. (The raw topic's refusal with
its basis, the 无条件 grant and `acl sync` are test_sharing.py's.)"""

from __future__ import annotations

import datetime as dt
import queue
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from connectors.subscriber.examples import expiry_notifier
from govbus.demo import notifier_process
from govbus.resource_catalog import publish_catalog, resource_catalog
from govbus.sharing import decide_request, revoke_grant, submit
from govbus.wiring import admin_settings, registry, topic_admin
from ops import metrics
from ops.kafka_client import as_principal, kafka_config
from ops.settings import Settings
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.migration import migrate
from sinks.clickhouse.tables import (
    SinkTable,
    resource_catalog_table,
    sink_tables,
    subscriptions_table,
)
from sinks.clickhouse.writer import ClickHouseWriter
from sinks.message import SinkMessage
from sinks.sharing_monitor import OverdueSubscriptions
from topics.catalog import catalog_for
from topics.principals import consumer
from topics.reader import TopicReader
from topics.schemas import key_schema, std_change_event_schema
from topics.serde import AvroEncoder
from topics.subscriptions import CITY_TIME

SOURCE = "licence.licence"
PROVIDER, DEPT = "licence", expiry_notifier.DEPT
APP_PATIENCE_S = 180.0


def licence_event(licence_id: str, expiry: dt.date, holder_kind: str, name: str
                  ) -> dict[str, Any]:
    row = {"licence_id": licence_id, "licence_type": "食品经营许可证", "licence_no": licence_id,
           "holder_kind": holder_kind, "holder_id_number_pseudonym": "k1:" + "0" * 32,
           "holder_id_number_masked": "340104************", "holder_uscc": None,
           "holder_name_masked": name, "issue_date": "2021-01-01",
           "expiry_date": expiry.isoformat(), "issuing_authority": "市政务服务管理局",
           "status": "有效"}
    return {"before": None, "after": row, "op": "c", "ts_ms": 1, "event_id": licence_id,
            "source": {"dept": PROVIDER, "system": "dzzz", "table": "licence",
                       "sequence": licence_id, "ts_ms": 1, "snapshot": "false"}}


def publish_licences(settings: Settings, events: list[dict[str, Any]]) -> None:
    """What the raw worker would have written to the std topic, written as the admin."""
    admin = admin_settings(settings)
    topic, schemas = catalog_for(settings).std(SOURCE), registry(admin)
    key = AvroEncoder(key_schema(SOURCE), schemas.register(topic.key_subject,
                                                           key_schema(SOURCE)))
    value_schema = std_change_event_schema(SOURCE)
    value = AvroEncoder(value_schema, schemas.register(topic.value_subject, value_schema))
    producer = Producer({**kafka_config(admin), "acks": "all", "log_level": 0})
    for event in events:
        producer.produce(topic.name, value.encode(event),
                         key.encode({"licence_id": event["after"]["licence_id"]}))
    assert producer.flush(30) == 0


def read_until(lines: queue.Queue[str | None], seen: list[str],
               done: Callable[[list[str]], bool], what: str) -> None:
    """The app's lines into ``seen`` until ``done(seen)``; fails if the app ends first."""
    deadline = time.monotonic() + APP_PATIENCE_S
    while not done(seen):
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            line = ""
        if line is None or time.monotonic() > deadline:
            raise AssertionError(f"the app never printed {what}; it printed: {seen[-30:]}")
        if line:
            seen.append(line)


def notices(seen: list[str]) -> set[str]:
    return {line.partition("notice: ")[2] for line in seen if line.startswith("notice: ")}


@contextmanager
def sink_engine(settings: Settings, tmp_path: Path) -> Iterator[ChdbBackend]:
    """The sink's embedded engine with its tables (fed below as the sink feeds them)."""
    engine = ChdbBackend(tmp_path / "chdb")
    database = settings.clickhouse_database
    try:
        migrate(engine, database, sink_tables(catalog_for(settings), database))
        yield engine
    finally:
        engine.close()


def land(engine: ChdbBackend, table: SinkTable, settings: Settings) -> None:
    """Every message of the table's topic into the table, as the sink's writer takes them."""
    writer = ClickHouseWriter(engine, table.spec)
    admin = admin_settings(settings)
    for topic in table.topics:
        for m in TopicReader(kafka_config(admin), registry(admin), topic).messages_to_end():
            writer.add(SinkMessage(m.topic, m.partition, m.offset, m.key, m.value))
    writer.flush(force=True)


def catalog_landed(engine: ChdbBackend, settings: Settings) -> None:
    """The catalog published (a second run writes nothing), browsable by a department, and
    landed in its table as it is: entries and items per sharing type."""
    first = publish_catalog(settings)
    assert (first.revised, first.withdrawn, first.unchanged) == (12, 0, 0)
    assert publish_catalog(settings).revised == 0
    market = as_principal(settings, consumer(DEPT))
    browsed = TopicReader(kafka_config(market), registry(market),
                          catalog_for(settings).resource_catalog.name).messages_to_end()
    assert len({m.key for m in browsed}) == first.revised
    table = resource_catalog_table(catalog_for(settings), settings.clickhouse_database)
    land(engine, table, settings)
    rows = engine.query(f"SELECT sharing, count(), sum(length(items)) FROM "
                        f"{table.spec.qualified_name} FINAL GROUP BY sharing").rows
    expected: dict[str, list[int]] = {}
    for resource in resource_catalog(settings):
        counts = expected.setdefault(str(resource.sharing), [0, 0])
        counts[0] += 1
        counts[1] += len(resource.items)
    assert {str(s): [int(n), int(i)] for s, n, i in rows} == expected


def test_a_department_subscribes_and_its_app_reads_until_revoked(settings: Settings,
                                                                 tmp_path: Path) -> None:
    catalog = catalog_for(settings)
    topic_admin(settings).apply(catalog.all)

    waiting = submit(settings, f"std.{SOURCE}", DEPT, "食品经营许可证到期提醒")
    assert waiting.status == "requested" and waiting.due_ms is not None
    due_ms = waiting.due_ms
    with sink_engine(settings, tmp_path) as engine:
        subscriptions = subscriptions_table(catalog, settings.clickhouse_database)
        land(engine, subscriptions, settings)
        metrics.subscriptions_overdue.clear()
        on_time = OverdueSubscriptions(engine, subscriptions.spec,
                                       clock=lambda: (due_ms - 1) / 1000)
        assert on_time.check() == {PROVIDER: 0}
        late = OverdueSubscriptions(engine, subscriptions.spec,
                                    clock=lambda: (due_ms + 1) / 1000)
        assert late.check() == {PROVIDER: 1}
        assert metrics.subscriptions_overdue.labels(dept=PROVIDER)._value.get() == 1
        catalog_landed(engine, settings)

    granted = decide_request(settings, waiting.subscription_id, PROVIDER, True, "")
    assert granted.status == "granted"
    today = dt.datetime.now(CITY_TIME).date()
    publish_licences(settings, [
        licence_event("SP-soon", today + dt.timedelta(days=10), "organization", "某*公司"),
        licence_event("SP-later", today + dt.timedelta(days=400), "person", "张*明"),
        licence_event("SP-lapsed", today - dt.timedelta(days=3), "person", "李*"),
    ])

    seen: list[str] = []
    with notifier_process(settings) as lines:
        read_until(lines, seen, lambda s: len(notices(s)) == 2, "two notices")
        assert notices(seen) == {
            f"licence 食品经营许可证 SP-soon expires in 10 days ({today + dt.timedelta(days=10)})"
            ", holder organization 某*公司",
            f"licence 食品经营许可证 SP-lapsed expired 3 days ago ({today - dt.timedelta(days=3)})"
            ", holder person 李*"}
        revoked = revoke_grant(settings, waiting.subscription_id, PROVIDER, "用途已完成")
        assert revoked.status == "revoked"
        denial = f"Not authorized to read from topic {catalog.std(SOURCE).name}"
        read_until(lines, seen, lambda s: any(denial in line for line in s), denial)
    assert not any("SP-later" in line or "340104" in line for line in seen)

    admin = admin_settings(settings)
    trail = [m.value for m in TopicReader(kafka_config(admin), registry(admin),
                                          catalog.audit.name).messages_to_end()
             if m.value is not None]
    kinds = {(e["kind"], e["resource"]) for e in trail}
    assert {("sharing.requested", waiting.resource_code),
            ("sharing.granted", waiting.resource_code),
            ("sharing.revoked", waiting.resource_code)} <= kinds
    assert {e["kind"] for e in trail} >= {"acl.granted", "acl.revoked"}
