"""Broker faults under a steady load of department events: one node of a three-node cluster,
then the default stack's single broker, SIGKILLed and restarted on the same ports and data.

After each, every published event is in std or in the DLQ exactly once (by event id), and the
sink kept landing: the theme libraries in ClickHouse hold each entity of the theme topics
once after FINAL. Each test prints its row of figures (run with -s to see them).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain, pairwise
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from connectors.publisher import DeliveryReport
from connectors.simulate import ChangeTarget, flush_all, publish_event
from connectors.simulator import DepartmentSimulator
from govbus.wiring import publishers, registry, topic_admin
from ops.kafka_client import kafka_config
from ops.keys import key_env_for_child
from ops.settings import Settings
from ops.stack.broker_metrics import agent_dir
from ops.stack.faults import ServiceFault, broker_fault
from ops.stack.kafka import KafkaBroker, KafkaCluster
from sinks.clickhouse.tables import entity_key_field
from sinks.service import group_id as sink_group
from tests.integration.sinks.harness import SinkRun, child_env, drained, ends, running
from tests.integration.workers import running_worker, wait_for
from topics.annotations import Category
from topics.catalog import Topic, catalog_for
from topics.dead_letters import EVENT_ID
from topics.reader import ReadMessage, TopicReader
from topics.schemas import source_names

RATE = 150  # events/s, steady, from the simulated departments (5% with defects)
WARMUP_S = 4.0
AFTER_S = 3.0
# The three-node cluster of this test listens this far above the session stack's ports.
CLUSTER_PORT_OFFSET = 200


@dataclass(frozen=True)
class FaultFigures:
    fault: str
    events_in: int
    in_std: int
    in_dlq: int
    lost: int
    duplicated: int
    restart_s: float  # the killed broker's start until it served again
    stall_s: float  # the longest pause between two std events: what the pipeline saw
    recover_s: float  # from the restart until every event was in std or the DLQ

    def row(self) -> str:
        return (f"{self.fault:<22} in {self.events_in:>6,}  std {self.in_std:>6,}  "
                f"dlq {self.in_dlq:>4,}  lost {self.lost}  duplicated {self.duplicated}  "
                f"restart {self.restart_s:.1f} s  longest std stall {self.stall_s:.1f} s  "
                f"all in std/DLQ {self.recover_s:.1f} s after the restart")


class _Recorded:
    """A publisher that notes the id of every event handed to it."""

    def __init__(self, target: ChangeTarget, ids: list[str]) -> None:
        self.target, self.ids = target, ids

    def publish(self, op: str, **event: Any) -> str:
        event_id = self.target.publish(op, **event)
        self.ids.append(event_id)
        return event_id

    def poll(self) -> None:
        self.target.poll()

    def flush(self, timeout_s: float = 30.0) -> DeliveryReport:
        return self.target.flush(timeout_s)


@pytest.fixture(scope="module")
def three_brokers(stack: Settings, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[dict[str, str]]:
    """A three-node cluster of its own (state folder and ports), sharing the session stack's
    access folder, pseudonym key and registry; the environment that points at it."""
    state = tmp_path_factory.mktemp("three-brokers")
    host, port, controller = stack.kafka_nodes[0]
    env = {
        "GOVBUS_STATE_DIR": str(state),
        "GOVBUS_ACCESS_DIR": str(stack.access_folder),
        "GOVBUS_KAFKA_BOOTSTRAP": f"{host}:{port + CLUSTER_PORT_OFFSET}",
        "GOVBUS_KAFKA_CONTROLLER_PORT": str(controller + CLUSTER_PORT_OFFSET),
        "GOVBUS_KAFKA_BROKERS": "3",
        **key_env_for_child(stack),
    }
    # The session's resolved jars: no second Maven run.
    shutil.copytree(KafkaBroker(stack).libs, state / "kafka" / "libs")
    if agent_dir(stack.state_dir).is_dir():
        shutil.copytree(agent_dir(stack.state_dir), agent_dir(state))
    cluster = KafkaCluster(stack.model_copy(update={
        "state_dir": state, "access_dir": stack.access_folder,
        "kafka_bootstrap": env["GOVBUS_KAFKA_BOOTSTRAP"],
        "kafka_controller_port": controller + CLUSTER_PORT_OFFSET, "kafka_brokers": 3}))
    try:
        cluster.start(timeout_s=300)
        yield env
    finally:
        cluster.stop()


@pytest.mark.chaos
def test_one_broker_of_three_killed_under_load_loses_and_doubles_nothing(
    three_brokers: dict[str, str], namespace: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in three_brokers.items():  # the cluster of the processes it starts
        monkeypatch.setenv(name, value)
    settings = Settings(topic_namespace=namespace)
    topic_admin(settings).apply(catalog_for(settings).all)
    assert _replicas(settings) == {(3, "2")}
    # The controller's node: its partitions' leaders and the quorum's leader move at once.
    node = KafkaCluster(settings).active_controller() or 1
    figures = _fault_under_load(settings, broker_fault(settings, node), 15.0, tmp_path,
                                f"broker {node} of 3")
    assert (figures.lost, figures.duplicated) == (0, 0)


@pytest.mark.chaos  # CI runs the fault matrix's short form instead (test_chaos.py)
def test_the_single_broker_killed_under_load_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path,
) -> None:
    if not settings.manage_stack:
        pytest.skip("the broker is not this session's to kill (GOVBUS_MANAGE_STACK=false)")
    figures = _fault_under_load(settings, broker_fault(settings), 5.0, tmp_path,
                                "the single broker")
    assert (figures.lost, figures.duplicated) == (0, 0)


def _fault_under_load(settings: Settings, fault: ServiceFault, outage_s: float, tmp_path: Path,
                      name: str) -> FaultFigures:
    catalog = catalog_for(settings)
    topic_admin(settings).apply(catalog.all)
    sink_settings = settings.model_copy(update={
        "state_dir": tmp_path / "sink", "access_dir": settings.access_folder,
        "sink_batch_rows": 1000, "sink_batch_seconds": 0.2})
    sink = SinkRun(sink_settings, child_env(sink_settings, **key_env_for_child(settings)),
                   tmp_path / "sink.log")
    published: list[str] = []
    targets = {source: _Recorded(target, published)
               for source, target in publishers(settings, list(source_names())).items()}
    simulator = DepartmentSimulator(seed=17, defect_rate=0.05, population=80)
    stop = threading.Event()
    log = tmp_path / "worker.log"
    with running_worker(settings, log, "--role", "all") as worker, running(sink), \
            ThreadPoolExecutor(1) as pool:
        # Load before the fault, during it, through the restart and a little after.
        load = pool.submit(_steady_load, simulator, targets, stop)
        time.sleep(WARMUP_S)
        fault.kill()
        time.sleep(outage_s)
        restarting = time.monotonic()
        fault.restore()
        restored = time.monotonic()
        time.sleep(AFTER_S)
        stop.set()
        delivery = load.result(timeout=180)
        assert (delivery.failed, delivery.pending) == (0, 0), delivery.errors[:3]
        accounted = [catalog.std(s) for s in source_names()] + [catalog.dlq("standardize")]
        wait_for(lambda: _messages(settings, accounted) >= len(published), 240,
                 "every event in std or the DLQ", worker, log)
        recover_s = time.monotonic() - restored
        sink.wait(lambda: _settled(settings, sink), "the theme libraries to settle", 240, 2.0)
        std = [m for s in source_names() for m in _read(settings, catalog.std(s))]
        dead = _read(settings, catalog.dlq("standardize"))
        landed = {category: _landed(sink, category) for category in Category}
    found = Counter([m.value["event_id"] for m in std if m.value is not None]
                    + [m.headers[EVENT_ID] for m in dead])
    figures = FaultFigures(
        fault=name, events_in=len(published), in_std=len(std), in_dlq=len(dead),
        lost=len(set(published) - set(found)),
        duplicated=sum(n - 1 for n in found.values() if n > 1),
        restart_s=restored - restarting,
        stall_s=_longest_gap_s(sorted(m.timestamp_ms for m in std)), recover_s=recover_s)
    print(f"\n{figures.row()}")
    assert len(set(published)) == len(published) > RATE * (WARMUP_S + outage_s)
    assert not set(found) - set(published)
    # The sink kept landing: each category's live profiles are those the theme topic ends
    # with, and no entity has two rows after FINAL.
    for category in Category:
        rows, live = landed[category]
        assert rows == sorted(set(rows)), f"{category}: duplicated rows after FINAL"
        assert set(live) == _live_on_topic(settings, category), category
    assert landed[Category.INDIVIDUAL][1]
    return figures


def _replicas(settings: Settings) -> set[tuple[int, str]]:
    """(replicas, min.insync.replicas) of the namespace's topics' partitions."""
    admin = AdminClient({**kafka_config(settings), "log_level": 0})
    found = admin.list_topics(timeout=30).topics
    names = [t.name for t in catalog_for(settings).all]
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    configs = {r.name: f.result()["min.insync.replicas"].value
               for r, f in admin.describe_configs(resources).items()}
    return {(len(p.replicas), configs[name])
            for name in names for p in found[name].partitions.values()}


def _steady_load(simulator: DepartmentSimulator, targets: Mapping[str, ChangeTarget],
                 stop: threading.Event) -> DeliveryReport:
    """The departments' snapshot, then their changes at RATE until ``stop``; then every
    event's delivery, waited for."""
    events = chain(simulator.initial_snapshot(), simulator.changes())
    started = time.monotonic()
    for sent, event in enumerate(events, start=1):
        if stop.is_set():
            break
        publish_event(event, targets)
        ahead = sent / RATE - (time.monotonic() - started)
        if ahead > 0.005:
            for target in targets.values():
                target.poll()
            time.sleep(ahead)
    return flush_all(targets, 120.0)


def _read(settings: Settings, topic: Topic) -> list[ReadMessage]:
    """Every message of the topic as of now."""
    reader = TopicReader(kafka_config(settings), registry(settings), topic.name)
    return list(reader.messages_to_end(timeout_s=120))


def _messages(settings: Settings, topics: list[Topic]) -> int:
    return sum(ends(settings, topics).values())


def _settled(settings: Settings, sink: SinkRun) -> bool:
    """The theme worker has turned every fact into profiles and the sink landed them all."""
    catalog = catalog_for(settings)
    topics = [*(catalog.fact(c) for c in Category), *(catalog.theme(c) for c in Category)]
    before = ends(settings, topics)
    time.sleep(3.0)
    return ends(settings, topics) == before and drained(sink, sink_group(sink.settings))


def _landed(sink: SinkRun, category: Category) -> tuple[list[str], list[str]]:
    """Every key's row after FINAL, and the live ones, in the category's theme library."""
    theme = catalog_for(sink.settings).theme(category)
    key = entity_key_field(theme.value_schema())  # type: ignore[misc]
    table = f"{sink.settings.clickhouse_database}.theme_{category}"
    rows = sink.rows(f"SELECT {key} AS k, is_deleted FROM {table} FINAL ORDER BY k")
    return [r["k"] for r in rows], [r["k"] for r in rows if not r["is_deleted"]]


def _live_on_topic(settings: Settings, category: Category) -> set[str]:
    """The entities whose last message on the theme topic is a live profile."""
    topic = catalog_for(settings).theme(category)
    key = entity_key_field(topic.value_schema())  # type: ignore[misc]
    last: dict[bytes | None, Mapping[str, Any] | None] = {}
    for message in _read(settings, topic):
        last[message.raw_key] = message.value
    return {str(v[key]) for v in last.values() if v is not None and not v.get("deleted")}


def _longest_gap_s(stamps_ms: list[int]) -> float:
    return max((b - a for a, b in pairwise(stamps_ms)), default=0) / 1000
