"""govbus status (govbus/cli_status.py): rates and rendering from synthetic snapshots."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from govbus.cli_status import KafkaFacts, Snapshot, StatusView, rates, render
from ops.http import Target
from ops.stack.manager import ServiceStatus


def _key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


EVENTS = "govbus_stage_events_total"


def _snapshots() -> tuple[Snapshot, Snapshot]:
    a = dict(instance="127.0.0.1:1", stage="standardize", dept="gongan")
    b = dict(instance="127.0.0.1:2", stage="standardize", dept="gongan")
    prev = Snapshot(1000.0, {
        _key(EVENTS, outcome="in", **a): 100.0,
        _key(EVENTS, outcome="in", **b): 500.0,
        _key(EVENTS, outcome="rejected", **a): 10.0,
    })
    cur = Snapshot(1002.0, {
        _key(EVENTS, outcome="in", **a): 140.0,       # +40
        _key(EVENTS, outcome="in", **b): 20.0,        # restarted: counts 20
        _key(EVENTS, outcome="rejected", **a): 10.0,
        _key(EVENTS, outcome="in", instance="127.0.0.1:3", stage="theme", dept="x"): 9.0,  # new
        _key("govbus_sink_rows_total", instance="127.0.0.1:2", table="person"): 300.0,
        _key("govbus_sink_last_insert_timestamp_seconds", instance="127.0.0.1:2",
             table="person"): 400.0,
        _key("govbus_quality_findings_total", instance="127.0.0.1:1", dept="gongan",
             dimension="validity", reason="citizen_id.check_digit"): 4.0,
        _key("govbus_dlq_events_total", instance="127.0.0.1:1", stage="standardize",
             dept="gongan", reason="citizen_id.check_digit"): 10.0,
    })
    return prev, cur


def test_rates_handle_restarts_and_new_series() -> None:
    prev, cur = _snapshots()
    assert rates(prev, cur, EVENTS, ("stage", "outcome")) == {
        ("standardize", "in"): 30.0, ("standardize", "rejected"): 0.0}
    assert rates(None, cur, EVENTS, ("stage",)) == {}
    assert rates(cur, prev, EVENTS, ("stage",)) == {}


def test_sum_by_adds_up_instances() -> None:
    _, cur = _snapshots()
    assert cur.sum_by(EVENTS, ("dept",), outcome="in") == {("gongan",): 160.0, ("x",): 9.0}


def test_the_view_renders_every_section(tmp_path: Path) -> None:
    prev, cur = _snapshots()
    view = StatusView(
        [ServiceStatus("kafka", "ready", 1, "127.0.0.1:19092"),
         ServiceStatus("registry", "down", None, "http://127.0.0.1:18081")],
        prev, cur,
        KafkaFacts(lag={("govbus-raw", "raw.gongan.person"): 7},
                   topic_messages={"dlq.standardize": 3}))
    console = Console(width=140, record=True)
    console.print(render(view))
    text = console.export_text()
    for expected in ("kafka", "down", "standardize", "30.0", "govbus-raw", "raw.gongan.person",
                     "kafka", "dlq.standardize", "citizen_id.check_digit", "person", "ago",
                     "gongan", "validity 4", "none running"):
        assert expected in text, expected
    empty = StatusView([], None, Snapshot(0.0), None)
    console = Console(width=140, record=True)
    console.print(render(empty))
    assert "no stage reports events" in console.export_text()


def test_targets_in_the_view_show_readiness() -> None:
    from govbus.cli_status import TargetState

    _, cur = _snapshots()
    cur.targets = [TargetState(Target("raw", 42, "http://127.0.0.1:9", Path("x")),
                               "not ready: starting")]
    console = Console(width=140, record=True)
    console.print(render(StatusView([], None, cur, None)))
    text = console.export_text()
    assert "govbus raw" in text and "not ready: starting" in text


def test_under_replicated_partitions_are_those_short_of_in_sync_replicas() -> None:
    from confluent_kafka.admin._metadata import (
        ClusterMetadata,
        PartitionMetadata,
        TopicMetadata,
    )

    from govbus.cli_status import under_replicated

    def partition(pid: int, replicas: list[int], isrs: list[int]) -> PartitionMetadata:
        p = PartitionMetadata()
        p.id, p.replicas, p.isrs = pid, replicas, isrs
        return p

    topic = TopicMetadata()
    topic.topic = "std.gongan.person"
    topic.partitions = {0: partition(0, [1, 2, 3], [1, 2, 3]),
                        1: partition(1, [1, 2, 3], [1, 3])}
    metadata = ClusterMetadata()
    metadata.topics = {topic.topic: topic}
    assert under_replicated(metadata, ["std.gongan.person", "absent"]) == ["std.gongan.person[1]"]


def test_the_stack_table_shows_brokers_controller_and_under_replicated_partitions() -> None:
    facts = KafkaFacts(brokers=2, controller=3, under_replicated=["std.gongan.person[1]"])
    console = Console(width=160, record=True)
    console.print(render(StatusView([], None, Snapshot(0.0), facts)))
    text = console.export_text()
    assert "1 under-replicated" in text
    assert "2 broker(s) up, controller node 3: std.gongan.person[1]" in text
