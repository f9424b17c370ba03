"""A schema registry outage under load loses nothing and dead-letters nothing.

Departments publish ~150 events/s while the raw and theme workers and the sink run; the
registry (and its door) is stopped for 30 s. During the outage every kind of registry client
meets it with nothing cached to hide it: the workers read a department's first events (a
schema id they never fetched), a department's publisher starts (it registers its schemas),
and the sink starts (it registers its audit schema, then fetches every id it reads).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.publisher import ChangeEventPublisher
from govbus.wiring import publishers, registry, topic_admin
from ops.kafka_client import kafka_config
from ops.settings import Settings
from ops.stack.manager import LocalStack
from tests.integration.sinks.harness import SinkRun, child_env
from tests.integration.workers import running_worker, wait_for
from topics.catalog import catalog_for
from topics.codes.citizen_id import make_citizen_id
from topics.codes.sex import SexCode
from topics.codes.uscc import make_uscc
from topics.dead_letters import REASON
from topics.reader import ReadMessage, TopicReader

OUTAGE_S = 30.0
RATE = 150  # events per second, the household registry's steady load
ENTERPRISES = 40  # published during the outage: the workers' first market events
LICENCES = 40  # from a publisher that starts during the outage
HOUSEHOLD, MARKET, LICENCE = "household.resident", "market.enterprise", "licence.licence"
# What a registry fault would be dead-lettered as, were it mistaken for the message's fault.
REGISTRY_REASONS = {"serde.unknown_schema_id"}


def _person(i: int) -> str:
    born = dt.date(1950, 1, 1) + dt.timedelta(days=i // 400)
    return make_citizen_id("340104", born, i % 400, SexCode.MALE)


def _resident(i: int) -> dict[str, Any]:
    id_number = _person(i)
    return {
        "resident_id": f"RK{i:010d}", "id_number": id_number, "name": "张三丰", "sex": "男",
        "birth_date": f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}",
        "ethnicity": "汉族", "division_code": "340104",
        "address": "安徽省合肥市蜀山区长江西路100号", "phone": "13912345678",
        "status": "正常", "registered_date": "2001-01-01",
    }


def _uscc(i: int) -> str:
    return make_uscc("9", "1", "340104", f"MA{i:06d}")


def _enterprise(i: int) -> dict[str, Any]:
    return {
        "enterprise_id": f"E-{i}", "uscc": _uscc(i), "name": "合肥三丰食品有限公司",
        "enterprise_type": "有限责任公司", "status": "存续", "legal_rep_name": "张三丰",
        "legal_rep_id_number": _person(i), "registered_capital": 100.0,
        "established_date": "2015-03-01", "division_code": "340104",
        "address": "安徽省合肥市蜀山区黄山路1号", "contact_phone": "0551-65551234",
        "business_scope": "食品销售",
    }


def _licence(i: int) -> dict[str, Any]:
    return {
        "licence_id": f"L-{i}", "licence_type": "食品经营许可证",
        "licence_no": f"JY1340104{i:07d}", "holder_kind": "organization",
        "holder_id_number": None, "holder_uscc": _uscc(i),
        "holder_name": "合肥三丰食品有限公司", "issue_date": "2020-01-01",
        "expiry_date": "2030-01-01", "issuing_authority": "合肥市市场监督管理局",
        "status": "有效",
    }


class _SteadyLoad(threading.Thread):
    """Creates one resident per event at ``rate`` events/s until stopped."""

    def __init__(self, publisher: ChangeEventPublisher, rate: int) -> None:
        super().__init__(daemon=True)
        self.publisher, self.rate = publisher, rate
        self.event_ids: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.halt.is_set():
            due = int((time.monotonic() - started) * self.rate)
            while len(self.event_ids) < due:
                i = len(self.event_ids)
                self.event_ids.append(self.publisher.publish("c", after=_resident(i),
                                                             sequence=str(i)))
            self.publisher.poll()
            time.sleep(0.02)


def _publish(publisher: ChangeEventPublisher, count: int,
             row: Callable[[int], dict[str, Any]]) -> list[str]:
    ids = [publisher.publish("c", after=row(i), sequence=str(i)) for i in range(count)]
    assert not publisher.flush(60).errors
    return ids


def _read_to_end(settings: Settings, topic: str) -> list[ReadMessage]:
    """What the topic holds now: under a steady load it never falls idle for long."""
    reader = TopicReader(kafka_config(settings), registry(settings), topic)
    return list(reader.messages_to_end(timeout_s=120))


def _std_event_ids(settings: Settings, source: str) -> Counter[str]:
    std = catalog_for(settings).std(source).name
    return Counter(str(m.value["event_id"]) for m in _read_to_end(settings, std)
                   if m.value is not None)


@pytest.mark.timeout(900)
def test_a_registry_outage_under_load_loses_nothing(
    stack: Settings, settings: Settings, tmp_path: Path
) -> None:
    if not stack.manage_stack:
        pytest.skip("the registry is not managed here (GOVBUS_MANAGE_STACK=false)")
    topic_admin(settings).apply(catalog_for(settings).all)
    sent = publishers(settings, [HOUSEHOLD, MARKET])  # registered before the outage
    load = _SteadyLoad(sent[HOUSEHOLD], RATE)
    sink_settings = settings.model_copy(update={"state_dir": tmp_path / "sink",
                                                "access_dir": stack.access_folder})
    sink = SinkRun(sink_settings, child_env(sink_settings), tmp_path / "sink.log")
    worker_log = tmp_path / "worker.log"
    late: dict[str, Any] = {}

    def late_department() -> None:
        publisher = publishers(settings, [LICENCE])[LICENCE]  # waits for the registry
        late["ready_at"] = time.monotonic()
        late["ids"] = _publish(publisher, LICENCES, _licence)

    with running_worker(settings, worker_log, "--role", "all") as worker:
        load.start()
        try:
            wait_for(lambda: bool(_std_event_ids(settings, HOUSEHOLD)), 180, "the first std events",
                     worker, worker_log)
            away_at = time.monotonic()
            with LocalStack(stack).outage("registry"):
                enterprise_ids = _publish(sent[MARKET], ENTERPRISES, _enterprise)
                starting = threading.Thread(target=late_department, daemon=True)
                starting.start()
                sink.start()
                time.sleep(OUTAGE_S)
                assert worker.poll() is None, worker_log.read_text()[-3000:]
            back_at = time.monotonic()
            outage_s = back_at - away_at  # the registry's start-up included
            time.sleep(5)  # the load goes on a while with the registry back
        finally:
            load.halt.set()
            load.join(30)
        try:
            assert not sent[HOUSEHOLD].flush(60).errors
            starting.join(300)
            assert late.get("ready_at", 0.0) >= back_at, "the late publisher did not wait"
            expected = {HOUSEHOLD: load.event_ids, MARKET: enterprise_ids,
                        LICENCE: late["ids"]}

            def in_std() -> bool:
                return all(sum(_std_event_ids(settings, s).values()) >= len(ids)
                           for s, ids in expected.items())

            wait_for(in_std, 300, "every event in std", worker, worker_log)
            for source, ids in expected.items():
                assert _std_event_ids(settings, source) == Counter(ids), (
                    f"{source}: not each one once")
            dlqs = [catalog_for(settings).dlq(stage).name for stage in ("standardize", "theme")]
            reasons = Counter(m.headers.get(REASON) for dlq in dlqs
                              for m in _read_to_end(settings, dlq))
            assert not REGISTRY_REASONS & set(reasons), reasons
            # The workers met the outage rather than a cache that hid it.
            assert "schema registry unavailable" in worker_log.read_text()

            database = sink_settings.clickhouse_database
            wanted = {"theme_individual": len(load.event_ids),
                      "theme_organization": ENTERPRISES, "theme_thing": LICENCES}

            def landed() -> bool:
                return all(sink.scalar(f"SELECT count() FROM {database}.{table} FINAL") == n
                           for table, n in wanted.items())

            sink.wait(landed, "every theme row in ClickHouse", timeout_s=300, poll_s=2.0)
            published = {source: len(ids) for source, ids in expected.items()}
            print(f"registry away {outage_s:.0f} s; published {published}, each in std once, "
                  f"none dead-lettered for the outage; ClickHouse had {wanted} "
                  f"{time.monotonic() - back_at:.0f} s after the registry was back")
            assert "schema registry unavailable" in sink.log.read_text()
        finally:
            if sink.alive():
                sink.stop()
