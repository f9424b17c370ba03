"""The consumer loop's bookkeeping: commit only acknowledged offsets, pause while ClickHouse is
away, follow a newer schema. Kafka is a scripted stand-in here; ClickHouse is the real engine."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.writer import ClickHouseWriter
from sinks.consumer import SinkConsumer
from sinks.message import TopicPartition
from tests.unit.sinks.flaky_backend import FlakyBackend
from tests.unit.sinks.samples import finding
from topics.schemas import schema_text
from topics.serde import AvroDecoder, AvroEncoder

TOPIC = "quality.finding"
KEY_SCHEMA = {
    "type": "record",
    "name": "Key",
    "namespace": "t",
    "fields": [{"name": "finding_id", "type": "string"}],
}


class Record:
    def __init__(
        self,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        topic: str = TOPIC,
        error: KafkaError | None = None,
    ):
        self._partition, self._offset, self._key, self._value = partition, offset, key, value
        self._topic, self._error = topic, error

    def error(self) -> KafkaError | None:
        return self._error

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return None


class ScriptedKafka:
    """Hands out queued records and remembers commits, pauses and resumes."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.queue: list[Record] = []
        self.commits: list[dict[tuple[str, int], int]] = []
        self.paused: set[tuple[str, int]] = set()
        self.resumed: list[tuple[str, int]] = []
        self.commit_errors: list[KafkaError] = []  # raised by the next commits, in order

    def consume(self, num_messages: int, timeout: float) -> list[Record]:
        taken, self.queue = self.queue[:num_messages], self.queue[num_messages:]
        return taken

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        assert asynchronous is False
        if self.commit_errors:
            raise KafkaException(self.commit_errors.pop(0))
        self.commits.append({(o.topic, o.partition): o.offset for o in offsets})

    def pause(self, partitions: list[Any]) -> None:
        self.paused |= {(p.topic, p.partition) for p in partitions}

    def resume(self, partitions: list[Any]) -> None:
        for p in partitions:
            self.paused.discard((p.topic, p.partition))
            self.resumed.append((p.topic, p.partition))


@pytest.fixture
def schemas(finding_spec: TableSpec) -> dict[int, dict[str, Any]]:
    newer = copy.deepcopy(dict(finding_spec.schema))
    newer["fields"].append({"name": "rule_version", "type": ["null", "string"], "default": None})
    return {1: dict(finding_spec.schema), 2: KEY_SCHEMA, 3: newer}


def setup(
    engine: ChdbBackend,
    spec: TableSpec,
    schemas: dict[int, dict[str, Any]],
    kafka: type[ScriptedKafka] = ScriptedKafka,
    clock: Callable[[], float] = time.monotonic,
    max_rows: int = 5,
    max_seconds: float = 60,
) -> tuple[SinkConsumer, ScriptedKafka, FlakyBackend]:
    backend = FlakyBackend(engine)
    writer = ClickHouseWriter(backend, spec, max_rows=max_rows, max_seconds=max_seconds,
                              clock=clock)
    writer.prepare()
    made: list[ScriptedKafka] = []

    def factory(config: dict[str, Any]) -> ScriptedKafka:
        made.append(kafka(config))
        return made[0]

    consumer = SinkConsumer(
        connection={"bootstrap.servers": "unused:9092"},
        group_id="sink-test",
        routes={TOPIC: writer},
        fetch_schema=lambda schema_id: schema_text(schemas[schema_id]),
        consumer_factory=factory,
        clock=clock,
    )
    assert made[0].config["enable.auto.commit"] is False
    return consumer, made[0], backend


def records(
    schemas: dict[int, dict[str, Any]], first: int, count: int, schema_id: int = 1, **extra: Any
) -> list[Record]:
    value = AvroEncoder(schemas[schema_id], schema_id)
    key = AvroEncoder(KEY_SCHEMA, 2)
    out = []
    for offset in range(first, first + count):
        row = finding(offset) | extra
        out.append(
            Record(0, offset, key.encode({"finding_id": row["finding_id"]}), value.encode(row))
        )
    return out


def table_count(engine: ChdbBackend, spec: TableSpec) -> int:
    return int(engine.query(f"SELECT count() FROM {spec.qualified_name}").rows[0][0])


def test_commits_only_what_clickhouse_acknowledged(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    consumer, kafka, _ = setup(engine, finding_spec, schemas)
    kafka.queue = records(schemas, 0, 12)
    assert consumer.step() == 12
    assert kafka.commits == [{(TOPIC, 0): 10}]
    assert table_count(engine, finding_spec) == 10


def test_pauses_while_unavailable_and_resumes_after(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    consumer, kafka, backend = setup(engine, finding_spec, schemas)
    consumer.writer.backoff.initial = consumer.writer.backoff._next = 0.01
    backend.fail_inserts = 1
    kafka.queue = records(schemas, 0, 5)
    consumer.step()
    assert kafka.paused == {(TOPIC, 0)}
    assert kafka.commits == []
    consumer.writer._retry_at = 0.0  # the backoff has elapsed
    consumer.step()
    assert kafka.paused == set()
    assert kafka.resumed == [(TOPIC, 0)]
    assert kafka.commits == [{(TOPIC, 0): 5}]
    assert consumer.writer.backlogged() == frozenset()
    assert table_count(engine, finding_spec) == 5


def test_newer_schema_adds_its_column_before_its_rows(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    consumer, kafka, _ = setup(engine, finding_spec, schemas)
    kafka.queue = records(schemas, 0, 2) + records(schemas, 2, 5, 3, rule_version="v2")
    consumer.step()
    # The table grew the column before the batch holding both kinds of rows went in.
    assert kafka.commits == [{(TOPIC, 0): 5}]
    consumer.finish()
    assert kafka.commits[-1] == {(TOPIC, 0): 7}
    rows = engine.query(
        f"SELECT _offset, rule_version FROM {finding_spec.qualified_name} ORDER BY _offset"
    ).rows
    assert rows == [(0, None), (1, None)] + [(i, "v2") for i in range(2, 7)]
    assert consumer.writer.spec.column("rule_version").type.sql == "Nullable(String)"
    assert TopicPartition(TOPIC, 0) not in consumer.writer.backlogged()


def test_a_newer_schema_fetched_while_the_registry_is_away_waits_for_it(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    consumer, kafka, _ = setup(engine, finding_spec, schemas)
    answers: list[Exception | str] = [ConnectionError("refused"), schema_text(schemas[3])]

    def registry_away_once(_schema_id: int) -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    consumer._decoder = AvroDecoder(registry_away_once)
    kafka.queue = records(schemas, 0, 5, 3, rule_version="v2")
    consumer.step()
    assert kafka.commits == [{(TOPIC, 0): 5}]
    assert consumer.writer.spec.column("rule_version").type.sql == "Nullable(String)"


def test_several_topics_into_their_writers(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    from dataclasses import replace

    other_spec = replace(finding_spec, name="other_findings")
    shared = ClickHouseWriter(FlakyBackend(engine), finding_spec, max_rows=3, max_seconds=60)
    other = ClickHouseWriter(FlakyBackend(engine), other_spec, max_rows=3, max_seconds=60)
    made: list[ScriptedKafka] = []

    def factory(config: dict[str, Any]) -> ScriptedKafka:
        made.append(ScriptedKafka(config))
        return made[-1]

    consumer = SinkConsumer(
        connection={"bootstrap.servers": "unused:9092"},
        group_id="sink-test",
        # Two topics share a table (like the fact topics); a third has its own.
        routes={TOPIC: shared, "quality.more": shared, "quality.other": other},
        fetch_schema=lambda schema_id: schema_text(schemas[schema_id]),
        consumer_factory=factory,
    )
    for writer in consumer.writers:
        writer.prepare()
    assert len(consumer.writers) == 2
    kafka = made[0]
    encode = AvroEncoder(schemas[1], 1)
    for topic in (TOPIC, "quality.more", "quality.other"):
        kafka.queue += [Record(0, o, None, encode.encode(finding(o)), topic) for o in range(3)]
    consumer.step()
    assert kafka.commits == [{(TOPIC, 0): 3, ("quality.more", 0): 3, ("quality.other", 0): 3}]
    assert table_count(engine, finding_spec) == 6
    assert table_count(engine, other_spec) == 3
    with pytest.raises(AttributeError):
        _ = consumer.writer


def test_transient_errors_are_skipped_fatal_ones_raise(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    consumer, kafka, _ = setup(engine, finding_spec, schemas)
    unknown = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "not yet created")
    kafka.queue = [Record(0, 0, None, None, error=unknown), *records(schemas, 0, 5)]
    assert consumer.step() == 6
    assert kafka.commits == [{(TOPIC, 0): 5}]
    fatal = KafkaError(KafkaError._FENCED, "fenced", fatal=True)
    kafka.queue = [Record(0, 5, None, None, error=fatal)]
    with pytest.raises(KafkaException):
        consumer.step()


def test_a_batch_is_due_by_the_time_its_messages_waited_in_the_poll(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    now = [100.0]

    class SlowPoll(ScriptedKafka):
        def consume(self, num_messages: int, timeout: float) -> list[Record]:
            now[0] += timeout  # the batch was not full: consume() waited out its timeout
            return super().consume(num_messages, timeout)

    consumer, kafka, _ = setup(engine, finding_spec, schemas, SlowPoll, lambda: now[0],
                               max_rows=100, max_seconds=0.5)
    assert consumer.poll_seconds == 0.2
    kafka.queue = records(schemas, 0, 3)
    consumer.step()  # 0.2 s in the poll: the batch is that old when it opens
    assert consumer.writer.due_in() == pytest.approx(0.3)
    consumer.step()
    assert table_count(engine, finding_spec) == 0
    consumer.step()  # this poll ends when the batch is due, not a whole poll later
    assert now[0] == pytest.approx(100.5)
    assert table_count(engine, finding_spec) == 3


def test_a_commit_the_coordinator_cannot_take_is_retried_not_fatal(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    """A broker restart: 'Waiting for coordinator' on commit. The rows are inserted; their
    offsets are committed with the next flush, together with the newer ones."""
    consumer, kafka, _ = setup(engine, finding_spec, schemas)
    kafka.commit_errors = [KafkaError(KafkaError._WAIT_COORD, "Waiting for coordinator")]
    kafka.queue = records(schemas, 0, 12)
    consumer.step()
    assert kafka.commits == []
    assert table_count(engine, finding_spec) == 10
    kafka.queue = records(schemas, 12, 10)
    consumer.step()
    assert kafka.commits == [{(TOPIC, 0): 20}]
    assert consumer.committed == {(TOPIC, 0): 20}
    kafka.commit_errors = [KafkaError(KafkaError._FENCED, "fenced", fatal=True)]
    kafka.queue = records(schemas, 22, 10)
    with pytest.raises(KafkaException):
        consumer.step()
