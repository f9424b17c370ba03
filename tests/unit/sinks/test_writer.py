"""ClickHouseWriter on the real engine: batching, tokens, commits, retries, deletes, evolution."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from sinks.backoff import ExponentialBackoff
from sinks.clickhouse.backend import BackendError
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.sealed_batch import dedup_token
from sinks.clickhouse.writer import ClickHouseWriter, SinkRejectedError, SinkUnavailableError
from sinks.message import SinkMessage, TopicPartition
from tests.unit.sinks.flaky_backend import FlakyBackend
from tests.unit.sinks.samples import finding, profile

TOPIC = "quality.finding"
THEME = "theme.person"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flaky(engine: ChdbBackend) -> FlakyBackend:
    return FlakyBackend(engine)


def messages(first: int, count: int, partition: int = 0) -> Iterator[SinkMessage]:
    for offset in range(first, first + count):
        yield SinkMessage(TOPIC, partition, offset, {"finding_id": str(offset)}, finding(offset))


def writer_for(backend: Any, spec: TableSpec, clock: Clock, **options: Any) -> ClickHouseWriter:
    writer = ClickHouseWriter(
        backend, spec, clock=clock, wall_ms=lambda: 1_700_000_000_000, **options
    )
    writer.prepare()
    return writer


def count(engine: ChdbBackend, spec: TableSpec, where: str = "1") -> int:
    sql = f"SELECT count() FROM {spec.qualified_name} WHERE {where}"
    return int(engine.query(sql).rows[0][0])


def test_token_is_topic_partition_and_offset_range() -> None:
    assert dedup_token("quality.finding", 3, 100, 199) == "quality.finding/3/100-199"


def test_batches_by_rows_and_commits_after_insert(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, finding_spec, clock, max_rows=4)
    writer.add_many(messages(0, 10))
    assert count(engine, finding_spec) == 0  # nothing is inserted before flush
    assert writer.due()
    assert writer.flush() == {TopicPartition(TOPIC, 0): 8}
    assert flaky.tokens == [f"{TOPIC}/0/0-3", f"{TOPIC}/0/4-7"]
    assert count(engine, finding_spec) == 8
    assert writer.pending_messages == 2  # the young partial batch waits for rows or time
    assert not writer.due()


def test_batches_by_time(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, finding_spec, clock, max_rows=1000, max_seconds=1.0)
    writer.add_many(messages(0, 3))
    clock.now += 0.5
    assert writer.flush() == {}
    writer.add_many(messages(3, 2, partition=1))
    clock.now += 0.6
    # Partition 0's batch is 1.1 s old, partition 1's only 0.6 s.
    assert writer.flush() == {TopicPartition(TOPIC, 0): 3}
    clock.now += 0.5
    assert writer.flush() == {TopicPartition(TOPIC, 1): 5}
    assert count(engine, finding_spec) == 5


def test_a_batch_counts_its_age_from_when_its_first_message_may_have_arrived(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, finding_spec, clock, max_rows=1000, max_seconds=1.0)
    writer.add_many(messages(0, 2))  # arrived now
    writer.add(next(messages(0, 1, partition=1)), waiting_since=clock.now - 0.7)
    writer.add(next(messages(1, 1, partition=1)), waiting_since=clock.now - 2.0)  # joins it
    assert writer.due_in() == pytest.approx(0.3)
    clock.now += 0.3
    assert writer.flush() == {TopicPartition(TOPIC, 1): 2}
    clock.now += 0.7
    assert writer.flush() == {TopicPartition(TOPIC, 0): 2}


def test_force_flushes_young_batches(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, finding_spec, clock)
    writer.add_many(messages(0, 3))
    assert writer.flush(force=True) == {TopicPartition(TOPIC, 0): 3}


def test_unavailable_backend_keeps_batch_and_backs_off(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(
        flaky,
        finding_spec,
        clock,
        max_rows=5,
        backoff=ExponentialBackoff(initial=1.0, factor=2.0, maximum=8.0),
    )
    writer.add_many(messages(0, 5))
    flaky.fail_inserts = 2
    with pytest.raises(SinkUnavailableError) as first:
        writer.flush()
    assert first.value.retryable
    assert first.value.partitions == {TopicPartition(TOPIC, 0)}
    assert first.value.retry_in == 1.0
    assert first.value.committable == {}
    assert writer.backlogged() == {TopicPartition(TOPIC, 0)}
    assert writer.flush() == {}  # still backing off: no attempt
    clock.now += 1.0
    with pytest.raises(SinkUnavailableError) as second:
        writer.flush()
    assert second.value.retry_in == 2.0
    clock.now += 2.0
    assert writer.flush() == {TopicPartition(TOPIC, 0): 5}
    assert flaky.tokens == [f"{TOPIC}/0/0-4"] * 3
    assert count(engine, finding_spec) == 5
    assert writer.backlogged() == frozenset()


def test_lost_acknowledgement_retry_is_deduplicated(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, finding_spec, clock, max_rows=100)
    writer.add_many(messages(0, 100))
    flaky.land_then_fail = 1
    with pytest.raises(SinkUnavailableError):
        writer.flush()
    assert count(engine, finding_spec) == 100  # landed, but the writer does not know
    clock.now += 10
    assert writer.flush() == {TopicPartition(TOPIC, 0): 100}
    assert count(engine, finding_spec) == 100


def test_a_retried_batch_is_rebuilt_identically(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    wall = iter(range(1_700_000_000_000, 1_800_000_000_000, 1000))
    writer = ClickHouseWriter(flaky, finding_spec, clock=clock, wall_ms=lambda: next(wall))
    writer.prepare()
    writer.add_many(messages(0, 50))
    flaky.fail_inserts = 1
    with pytest.raises(SinkUnavailableError):
        writer.flush(force=True)
    (batch,) = writer._sealed[TopicPartition(TOPIC, 0)]
    first = writer.build(batch)
    assert writer.build(batch).equals(first)  # even though the wall clock moved on
    assert batch.token == f"{TOPIC}/0/0-49"


def test_rejected_batch_is_not_retryable(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock
) -> None:
    class Refusing(FlakyBackend):
        def insert_arrow(self, table: str, data: pa.Table, dedup_token: str | None = None) -> int:
            raise BackendError("Code: 53. DB::Exception: Type mismatch", 53, retryable=False)

    writer = writer_for(Refusing(engine), finding_spec, clock)
    writer.add_many(messages(0, 2))
    with pytest.raises(SinkRejectedError) as refused:
        writer.flush(force=True)
    assert not refused.value.retryable


def test_crash_between_insert_and_commit_is_recovered(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    first = writer_for(flaky, finding_spec, clock, max_rows=30, max_seconds=0.5)
    first.add_many(messages(0, 30))
    first.add_many(messages(30, 12))
    clock.now += 1
    assert first.flush() == {TopicPartition(TOPIC, 0): 42}
    # ... and the process died before committing 42: the group still says 0.
    second = writer_for(flaky, finding_spec, clock, max_rows=1000, max_seconds=0.5)
    assert second.recover(TopicPartition(TOPIC, 0), 0) == 2
    second.add_many(messages(0, 60))
    clock.now += 1
    assert second.flush() == {TopicPartition(TOPIC, 0): 60}
    assert flaky.tokens[-3:] == [f"{TOPIC}/0/0-29", f"{TOPIC}/0/30-41", f"{TOPIC}/0/42-59"]
    assert count(engine, finding_spec) == 60
    assert count(engine, finding_spec, "_offset < 42") == 42


def test_forget_drops_revoked_partitions(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, finding_spec, clock)
    writer.add_many(messages(0, 3, partition=0))
    writer.add_many(messages(0, 4, partition=1))
    assert writer.forget([TopicPartition(TOPIC, 1)]) == 4
    assert writer.flush(force=True) == {TopicPartition(TOPIC, 0): 3}


def profile_message(
    offset: int,
    key: str,
    value: dict[str, Any] | None,
    partition: int = 0,
    version: int | None = None,
) -> SinkMessage:
    return SinkMessage(THEME, partition, offset, {"person_key": key}, value, version)


def live(engine: ChdbBackend, spec: TableSpec) -> dict[str, tuple[int, str | None]]:
    rows = engine.query(
        f"SELECT person_key, version, name_masked FROM {spec.qualified_name} FINAL "
        "ORDER BY person_key"
    ).rows
    return {r[0]: (r[1], r[2]) for r in rows}


def test_profile_keeps_the_highest_version(
    engine: ChdbBackend, profile_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, profile_spec, clock)
    writer.add(profile_message(0, "p1", profile("p1", 1, name_masked="张*")))
    writer.add(profile_message(1, "p1", profile("p1", 3, name_masked="张三*")))
    writer.add(profile_message(2, "p1", profile("p1", 2, name_masked="stale")))
    writer.flush(force=True)
    assert live(engine, profile_spec) == {"p1": (3, "张三*")}


def test_deleted_flag_hides_the_entity(
    engine: ChdbBackend, profile_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, profile_spec, clock)
    writer.add(profile_message(0, "p1", profile("p1", 1)))
    writer.add(profile_message(1, "p2", profile("p2", 1)))
    writer.flush(force=True)
    writer.add(profile_message(2, "p1", profile("p1", 2, deleted=True)))
    writer.flush(force=True)
    assert set(live(engine, profile_spec)) == {"p2"}


def test_tombstone_hides_the_entity_with_a_higher_version(
    engine: ChdbBackend, profile_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, profile_spec, clock)
    writer.add(profile_message(0, "p1", profile("p1", 7)))
    writer.add(profile_message(1, "p2", profile("p2", 1)))
    writer.flush(force=True)
    writer.add(profile_message(2, "p1", None))
    # Same batch: an upsert and then its tombstone.
    writer.add(profile_message(3, "p3", profile("p3", 4)))
    writer.add(profile_message(4, "p3", None))
    writer.flush(force=True)
    assert set(live(engine, profile_spec)) == {"p2"}
    deletions = engine.query(
        f"SELECT person_key, version, is_deleted, name_masked, _offset "
        f"FROM {profile_spec.qualified_name} WHERE is_deleted = 1 ORDER BY person_key"
    ).rows
    # Key kept, version above what it deletes, every other column at its default.
    assert deletions == [("p1", 8, 1, None, 2), ("p3", 5, 1, None, 4)]


def test_a_tombstone_with_a_version_header_needs_no_lookup(
    engine: ChdbBackend, profile_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, profile_spec, clock)
    writer.add(profile_message(0, "p1", profile("p1", 7)))
    writer.flush(force=True)
    queries: list[str] = []
    looking = flaky.query

    def query(sql: str) -> Any:
        queries.append(sql)
        return looking(sql)

    flaky.query = query  # type: ignore[method-assign]
    writer.add(profile_message(1, "p1", None, version=8))
    writer.flush(force=True)
    assert queries == []
    assert live(engine, profile_spec) == {}
    rows = engine.query(
        f"SELECT version FROM {profile_spec.qualified_name} WHERE is_deleted = 1"
    ).rows
    assert rows == [(8,)]


def test_tombstones_in_an_event_table_are_skipped_but_committed(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, finding_spec, clock)
    writer.add_many(messages(0, 2))
    writer.add(SinkMessage(TOPIC, 0, 2, {"finding_id": "2"}, None))
    assert writer.flush(force=True) == {TopicPartition(TOPIC, 0): 3}
    assert count(engine, finding_spec) == 2


def test_new_optional_field_lands_without_loss(
    engine: ChdbBackend, profile_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, profile_spec, clock)
    writer.add(profile_message(0, "p1", profile("p1", 1)))
    writer.flush(force=True)
    schema = copy.deepcopy(dict(profile_spec.schema))
    schema["fields"].append({"name": "nickname", "type": ["null", "string"], "default": None})
    plan = writer.evolve(schema)
    assert [c.name for c in plan.add] == ["nickname"]
    writer.add(profile_message(1, "p2", profile("p2", 1, nickname="小张")))
    writer.add(profile_message(2, "p3", profile("p3", 1)))  # written with the older schema
    writer.flush(force=True)
    rows = engine.query(
        f"SELECT person_key, nickname FROM {profile_spec.qualified_name} FINAL ORDER BY 1"
    ).rows
    assert rows == [("p1", None), ("p2", "小张"), ("p3", None)]


def test_tombstone_with_a_plain_string_key(
    engine: ChdbBackend, profile_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    # The catalog's theme topics are keyed by the entity key itself, a string.
    writer = writer_for(flaky, profile_spec, clock)
    writer.add(SinkMessage(THEME, 0, 0, "p1", profile("p1", 3)))
    writer.add(SinkMessage(THEME, 0, 1, "p2", profile("p2", 1)))
    writer.flush(force=True)
    writer.add(SinkMessage(THEME, 0, 2, "p1", None))
    writer.flush(force=True)
    assert set(live(engine, profile_spec)) == {"p2"}
    rows = engine.query(
        f"SELECT version, is_deleted FROM {profile_spec.qualified_name} "
        "WHERE person_key = 'p1' ORDER BY version"
    ).rows
    assert rows == [(3, 0), (4, 1)]


def test_rows_name_their_insert(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, finding_spec, clock, max_rows=3)
    writer.add_many(messages(0, 6))
    writer.flush()
    rows = engine.query(
        f"SELECT _batch, count() FROM {finding_spec.qualified_name} GROUP BY _batch ORDER BY 1"
    ).rows
    assert rows == [(f"{TOPIC}/0/0-2", 3), (f"{TOPIC}/0/3-5", 3)]


def test_recovered_range_keeps_its_token_when_its_first_message_is_gone(
    engine: ChdbBackend, profile_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    first = writer_for(flaky, profile_spec, clock, max_rows=4)
    for offset in range(8):
        first.add(profile_message(offset, f"p{offset}", profile(f"p{offset}", 1)))
    first.flush()  # inserted 0-3 and 4-7, then died before the commit
    assert count(engine, profile_spec) == 8
    second = writer_for(flaky, profile_spec, clock, max_rows=100)
    assert second.recover(TopicPartition(THEME, 0), 0) == 2
    # Compaction removed offsets 0 and 5 in the meantime.
    for offset in (1, 2, 3, 4, 6, 7, 8):
        second.add(profile_message(offset, f"p{offset}", profile(f"p{offset}", 1)))
    assert second.flush(force=True) == {TopicPartition(THEME, 0): 9}
    assert flaky.tokens[-3:] == [f"{THEME}/0/0-3", f"{THEME}/0/4-7", f"{THEME}/0/8-8"]
    assert count(engine, profile_spec) == 9  # nothing inserted twice


def test_recovered_range_ending_in_a_skipped_tombstone(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    first = writer_for(flaky, finding_spec, clock, max_rows=5)
    first.add_many(messages(0, 4))
    first.add(SinkMessage(TOPIC, 0, 4, "k", None))  # no row in an event table
    first.add_many(messages(5, 5))
    first.flush()
    second = writer_for(flaky, finding_spec, clock, max_rows=100)
    assert second.recover(TopicPartition(TOPIC, 0), 0) == 2
    second.add_many(messages(0, 4))
    second.add(SinkMessage(TOPIC, 0, 4, "k", None))
    second.add_many(messages(5, 7))
    assert second.flush(force=True) == {TopicPartition(TOPIC, 0): 12}
    assert flaky.tokens[-3:] == [f"{TOPIC}/0/0-4", f"{TOPIC}/0/5-9", f"{TOPIC}/0/10-11"]
    assert count(engine, finding_spec) == 11


def test_forced_flush_never_cuts_a_recovered_range(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    first = writer_for(flaky, finding_spec, clock, max_rows=10)
    first.add_many(messages(0, 10))
    first.flush()
    second = writer_for(flaky, finding_spec, clock, max_rows=10)
    second.recover(TopicPartition(TOPIC, 0), 0)
    second.add_many(messages(0, 6))  # stopping now: 0-5 of the recorded 0-9
    assert second.flush(force=True) == {}
    assert second.pending_messages == 6  # left uncommitted, read again next time
    second.add_many(messages(6, 4))
    assert second.flush(force=True) == {TopicPartition(TOPIC, 0): 10}
    assert count(engine, finding_spec) == 10


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int, bool]] = []

    def inserted(
        self, spec: TableSpec, data: pa.Table, seconds: float, attempt: int, recovered: bool
    ) -> None:
        assert seconds >= 0
        self.calls.append((spec.name, data.num_rows, attempt, recovered))


def test_observer_hears_of_every_acknowledged_insert(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    recorder = Recorder()
    writer = writer_for(flaky, finding_spec, clock, max_rows=5, observer=recorder)
    writer.add_many(messages(0, 5))
    flaky.fail_inserts = 1
    with pytest.raises(SinkUnavailableError):
        writer.flush()
    clock.now += 10
    writer.flush()
    again = writer_for(flaky, finding_spec, clock, max_rows=5, observer=recorder)
    again.recover(TopicPartition(TOPIC, 0), 0)
    again.add_many(messages(0, 5))
    again.flush()
    assert recorder.calls == [
        (finding_spec.name, 5, 2, False),  # the retry after the failure
        (finding_spec.name, 5, 1, True),  # a range an earlier process inserted
    ]


def test_background_inserts_return_their_offsets_once_done(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, finding_spec, clock, max_rows=5, background=True)
    try:
        writer.add_many(messages(0, 12))
        committed: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + 30
        while committed.get(TopicPartition(TOPIC, 0)) != 10 and time.monotonic() < deadline:
            committed.update(writer.flush())
            time.sleep(0.01)
        assert committed == {TopicPartition(TOPIC, 0): 10}
        assert writer.flush(force=True) == {TopicPartition(TOPIC, 0): 12}
        assert flaky.tokens == [f"{TOPIC}/0/0-4", f"{TOPIC}/0/5-9", f"{TOPIC}/0/10-11"]
        assert count(engine, finding_spec) == 12
        assert not writer.due()
    finally:
        writer.close()


def test_background_failure_is_reported_and_retried_identically(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, finding_spec, clock, max_rows=5, background=True)
    try:
        writer.add_many(messages(0, 5))
        flaky.fail_inserts = 1
        with pytest.raises(SinkUnavailableError) as failed:
            writer.flush(force=True)
        assert failed.value.partitions == {TopicPartition(TOPIC, 0)}
        assert writer.flush(force=True) == {}  # backing off
        clock.now += 10
        assert writer.flush(force=True) == {TopicPartition(TOPIC, 0): 5}
        assert flaky.tokens == [f"{TOPIC}/0/0-4"] * 2
        assert count(engine, finding_spec) == 5
    finally:
        writer.close()


def test_forget_waits_for_the_insert_in_flight(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, finding_spec, clock, max_rows=5, background=True)
    try:
        writer.add_many(messages(0, 5))
        writer.add_many(messages(0, 2, partition=1))
        writer.flush()
        # Both partitions go: the inserted but uncommitted 5 are read again by the next owner.
        assert writer.forget([TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)]) == 7
        assert writer.flush(force=True) == {}
        assert writer.backlogged() == frozenset()
    finally:
        writer.close()


def test_a_profile_table_inserts_all_its_partitions_at_once(
    engine: ChdbBackend, profile_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    writer = writer_for(flaky, profile_spec, clock, max_seconds=0.5)
    for partition in range(3):
        writer.add(profile_message(10, f"p{partition}", profile(f"p{partition}", 1), partition))
    clock.now += 1
    assert writer.flush() == {TopicPartition(THEME, p): 11 for p in range(3)}
    assert flaky.tokens == ["+".join(f"{THEME}/{p}/10-10" for p in range(3))]
    rows = engine.query(  # each row still names its own partition's range
        f"SELECT _batch FROM {profile_spec.qualified_name} ORDER BY _partition").rows
    assert rows == [(f"{THEME}/{p}/10-10",) for p in range(3)]


def test_a_profile_range_that_landed_whole_is_committed_not_inserted_again(
    engine: ChdbBackend, profile_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    first = writer_for(flaky, profile_spec, clock, max_seconds=0.5)
    for partition in range(2):
        first.add(profile_message(0, f"p{partition}", profile(f"p{partition}", 1), partition))
    clock.now += 1
    first.flush()  # ... and the process died before committing
    second = writer_for(flaky, profile_spec, clock, max_seconds=0.5)
    for partition in range(2):
        assert second.recover(TopicPartition(THEME, partition), 0) == 1
        second.add(profile_message(0, f"p{partition}", profile(f"p{partition}", 1), partition))
        second.add(profile_message(1, f"p{partition}", profile(f"p{partition}", 2), partition))
    clock.now += 1
    assert second.flush() == {TopicPartition(THEME, 0): 2, TopicPartition(THEME, 1): 2}
    assert len(flaky.tokens) == 2  # the first group, then the two new offsets together
    rows = engine.query(f"SELECT count(), uniqExact(_partition, _offset) "
                        f"FROM {profile_spec.qualified_name}").rows
    assert rows == [(4, 4)]  # no message stored twice
    assert {k: v for k, (v, _) in live(engine, profile_spec).items()} == {"p0": 2, "p1": 2}


def test_a_partition_s_first_batch_after_it_was_taken_on_goes_in_at_once(
    engine: ChdbBackend, finding_spec: TableSpec, clock: Clock, flaky: FlakyBackend
) -> None:
    """A restarted sink's catch-up lands (and is committed) within a poll, not a batch
    window later; the batches after it wait for rows or time again."""
    writer = writer_for(flaky, finding_spec, clock, max_rows=1000, max_seconds=5.0)
    assert writer.recover(TopicPartition(TOPIC, 0), 0) == 0
    writer.add_many(messages(0, 3))
    writer.add_many(messages(0, 2, partition=1))  # not taken on here: batched as ever
    assert writer.due_in() == 0.0
    assert writer.flush() == {TopicPartition(TOPIC, 0): 3}
    writer.add_many(messages(3, 2))
    assert writer.flush() == {}
    clock.now += 5.0
    assert writer.flush() == {TopicPartition(TOPIC, 0): 5, TopicPartition(TOPIC, 1): 2}
