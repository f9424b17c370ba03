"""The sink step in the consumer runtime: commit only what ClickHouse acknowledged, pause while
it is away, follow a newer schema. Kafka is a scripted stand-in here; ClickHouse is the real
engine."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError

from ops.runtime.kafka_output import KafkaOutput
from ops.runtime.loop import ConsumerRuntime
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.writer import ClickHouseWriter
from sinks.message import TopicPartition
from sinks.step import STEP, SinkStep
from tests.doubles import HeldProducer, KafkaMessage, ScriptedConsumer, scripted
from tests.unit.sinks.flaky_backend import FlakyBackend
from tests.unit.sinks.samples import finding
from topics.catalog import catalog_in
from topics.dead_letters import DeadLetterEmitter
from topics.schemas import schema_text
from topics.serde import AvroDecoder, AvroEncoder

TOPIC = "quality.finding"
CATALOG = catalog_in("unit.")
KEY_SCHEMA = {
    "type": "record",
    "name": "Key",
    "namespace": "t",
    "fields": [{"name": "finding_id", "type": "string"}],
}


@pytest.fixture
def schemas(finding_spec: TableSpec) -> dict[int, dict[str, Any]]:
    newer = copy.deepcopy(dict(finding_spec.schema))
    newer["fields"].append({"name": "rule_version", "type": ["null", "string"], "default": None})
    return {1: dict(finding_spec.schema), 2: KEY_SCHEMA, 3: newer}


def setup(
    engine: ChdbBackend,
    spec: TableSpec,
    schemas: dict[int, dict[str, Any]],
    clock: Callable[[], float] = time.monotonic,
    max_rows: int = 5,
    max_seconds: float = 60,
    consume: Callable[[ScriptedConsumer, float], None] | None = None,
) -> tuple[ConsumerRuntime, SinkStep, ScriptedConsumer, FlakyBackend]:
    backend = FlakyBackend(engine)
    writer = ClickHouseWriter(backend, spec, max_rows=max_rows, max_seconds=max_seconds,
                              clock=clock)
    step = SinkStep(routes={TOPIC: writer},
                    fetch_schema=lambda schema_id: schema_text(schemas[schema_id]), clock=clock)
    runtime, step, kafka = run(step, clock, consume)
    return runtime, step, kafka, backend


def run(step: SinkStep, clock: Callable[[], float] = time.monotonic,
        consume: Callable[[ScriptedConsumer, float], None] | None = None,
        ) -> tuple[ConsumerRuntime, SinkStep, ScriptedConsumer]:
    factory, made = scripted([], assign=[(t, 0) for t in step.input_topics])
    runtime = ConsumerRuntime({"group.id": "sink-test"}, step, batch_size=2000,
                              batch_seconds=0.2, commit_interval_s=0.0, clock=clock,
                              consumer_factory=factory)
    step.prepare()
    runtime.start()
    kafka = made[0]
    if consume is not None:
        plain = kafka.consume

        def timed(num_messages: int, timeout: float = 0) -> list[KafkaMessage]:
            consume(kafka, timeout)
            return plain(num_messages, timeout)

        kafka.consume = timed  # type: ignore[method-assign]
    return runtime, step, kafka


def commits(kafka: ScriptedConsumer) -> list[dict[tuple[str, int], int]]:
    return [done for done, _ in kafka.commits]


def records(
    schemas: dict[int, dict[str, Any]], first: int, count: int, schema_id: int = 1, **extra: Any
) -> list[KafkaMessage]:
    value = AvroEncoder(schemas[schema_id], schema_id)
    key = AvroEncoder(KEY_SCHEMA, 2)
    out = []
    for offset in range(first, first + count):
        row = finding(offset) | extra
        out.append(
            KafkaMessage(TOPIC, 0, offset, key.encode({"finding_id": row["finding_id"]}),
                         value.encode(row))
        )
    return out


def table_count(engine: ChdbBackend, spec: TableSpec) -> int:
    return int(engine.query(f"SELECT count() FROM {spec.qualified_name}").rows[0][0])


def test_commits_only_what_clickhouse_acknowledged(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    runtime, _, kafka, _ = setup(engine, finding_spec, schemas)
    kafka.script = [records(schemas, 0, 12)]
    assert runtime.run_once() == 12
    assert commits(kafka) == [{(TOPIC, 0): 10}]
    assert table_count(engine, finding_spec) == 10


def test_pauses_while_unavailable_and_resumes_after(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    runtime, step, kafka, backend = setup(engine, finding_spec, schemas)
    step.writer.backoff.initial = step.writer.backoff._next = 0.01
    backend.fail_inserts = 1
    kafka.script = [records(schemas, 0, 5)]
    runtime.run_once()
    assert kafka.paused == {(TOPIC, 0)}
    assert kafka.commits == []
    step.writer._retry_at = 0.0  # the backoff has elapsed
    runtime.run_once()
    assert kafka.paused == set()
    assert kafka.resumed == [(TOPIC, 0)]
    assert commits(kafka) == [{(TOPIC, 0): 5}]
    assert step.writer.backlogged() == frozenset()
    assert table_count(engine, finding_spec) == 5


def test_newer_schema_adds_its_column_before_its_rows(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    runtime, step, kafka, _ = setup(engine, finding_spec, schemas)
    kafka.script = [records(schemas, 0, 2) + records(schemas, 2, 5, 3, rule_version="v2")]
    runtime.run_once()
    # The table grew the column before the batch holding both kinds of rows went in.
    assert commits(kafka) == [{(TOPIC, 0): 5}]
    runtime.finish()
    assert commits(kafka)[-1] == {(TOPIC, 0): 7}
    rows = engine.query(
        f"SELECT _offset, rule_version FROM {finding_spec.qualified_name} ORDER BY _offset"
    ).rows
    assert rows == [(0, None), (1, None)] + [(i, "v2") for i in range(2, 7)]
    assert step.writer.spec.column("rule_version").type.sql == "Nullable(String)"
    assert TopicPartition(TOPIC, 0) not in step.writer.backlogged()


def test_several_topics_into_their_writers(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    from dataclasses import replace

    other_spec = replace(finding_spec, name="other_findings")
    shared = ClickHouseWriter(FlakyBackend(engine), finding_spec, max_rows=3, max_seconds=60)
    other = ClickHouseWriter(FlakyBackend(engine), other_spec, max_rows=3, max_seconds=60)
    # Two topics share a table (like the fact topics); a third has its own.
    step = SinkStep(routes={TOPIC: shared, "quality.more": shared, "quality.other": other},
                    fetch_schema=lambda schema_id: schema_text(schemas[schema_id]))
    runtime, _, kafka = run(step)
    assert len(step.writers) == 2
    encode = AvroEncoder(schemas[1], 1)
    kafka.script = [[KafkaMessage(topic, 0, o, None, encode.encode(finding(o)))
                     for topic in (TOPIC, "quality.more", "quality.other") for o in range(3)]]
    runtime.run_once()
    assert commits(kafka) == [{(TOPIC, 0): 3, ("quality.more", 0): 3, ("quality.other", 0): 3}]
    assert table_count(engine, finding_spec) == 6
    assert table_count(engine, other_spec) == 3
    with pytest.raises(AttributeError):
        _ = step.writer


def test_a_batch_is_due_by_the_time_its_messages_waited_in_the_poll(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    now = [100.0]

    def slow_poll(_kafka: ScriptedConsumer, timeout: float) -> None:
        now[0] += timeout  # the batch was not full: consume() waited out its timeout

    runtime, step, kafka, _ = setup(engine, finding_spec, schemas, lambda: now[0],
                                    max_rows=100, max_seconds=0.5, consume=slow_poll)
    assert step.poll_seconds == 0.2
    kafka.script = [records(schemas, 0, 3), records(schemas, 3, 3)]
    runtime.run_once()  # the partition's first batch since it was taken on: in at once
    assert table_count(engine, finding_spec) == 3
    runtime.run_once()  # 0.2 s in the poll: the batch is that old when it opens
    assert step.writer.due_in() == pytest.approx(0.3)
    runtime.run_once()
    assert table_count(engine, finding_spec) == 3
    runtime.run_once()  # this poll ends when the batch is due, not a whole poll later
    assert now[0] == pytest.approx(100.7)
    assert table_count(engine, finding_spec) == 6


def test_a_new_owner_skips_what_a_crashed_one_inserted_but_never_committed(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    runtime, _, kafka, _ = setup(engine, finding_spec, schemas)
    kafka.script = [records(schemas, 0, 5)]
    kafka.commit_errors = [KafkaError(KafkaError._WAIT_COORD, "Waiting for coordinator")]
    runtime.run_once()  # inserted; the commit did not go through, and the process dies
    assert table_count(engine, finding_spec) == 5
    runtime2, _, kafka2, _ = setup(engine, finding_spec, schemas)
    kafka2.script = [records(schemas, 0, 5)]
    runtime2.run_once()
    runtime2.finish()
    assert table_count(engine, finding_spec) == 5
    assert commits(kafka2)[-1] == {(TOPIC, 0): 5}


def dead_lettering(engine: ChdbBackend, spec: TableSpec, schemas: dict[int, dict[str, Any]]
                   ) -> tuple[ConsumerRuntime, SinkStep, ScriptedConsumer, HeldProducer]:
    """A sink whose dead letters go to a producer that holds their delivery reports."""
    producer = HeldProducer()
    writer = ClickHouseWriter(FlakyBackend(engine), spec, max_rows=5, max_seconds=60)
    step = SinkStep(routes={TOPIC: writer},
                    fetch_schema=lambda schema_id: schema_text(schemas[schema_id]),
                    dead_letters=DeadLetterEmitter(CATALOG, STEP,
                                                   KafkaOutput(producer)))  # type: ignore[arg-type]
    runtime, _, kafka = run(step)
    return runtime, step, kafka, producer


def test_a_message_no_row_can_be_built_of_is_dead_lettered_and_the_rest_lands(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    runtime, step, kafka, producer = dead_lettering(engine, finding_spec, schemas)
    good = records(schemas, 0, 6)
    poison = KafkaMessage(TOPIC, 0, 2, b"k", b"\x00\x00\x00\x00\x01\xff")  # truncated Avro
    kafka.script = [[*good[:2], poison, *good[3:]]]
    runtime.run_once()
    assert producer.topics == ["unit.dlq.sink"]
    assert step.failed == {("sink.build", "serde.corrupt"): 1}
    # The rows are in, and their offsets committed once the letter was delivered.
    assert table_count(engine, finding_spec) == 5
    assert commits(kafka) == [{(TOPIC, 0): 6}]
    assert producer.pending == []


def test_a_newer_schema_fetched_while_the_registry_is_away_waits_for_it(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    runtime, step, kafka, _ = setup(engine, finding_spec, schemas)
    answers: list[Exception | str] = [ConnectionError("refused"), schema_text(schemas[3])]

    def registry_away_once(_schema_id: int) -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    step._decoder = AvroDecoder(registry_away_once, sleep=lambda _s: None)
    kafka.script = [records(schemas, 0, 5, 3, rule_version="v2")]
    runtime.run_once()
    assert commits(kafka) == [{(TOPIC, 0): 5}]
    assert step.writer.spec.column("rule_version").type.sql == "Nullable(String)"


def test_a_partition_ending_in_a_dead_letter_or_markers_is_committed_past_them(
    engine: ChdbBackend, finding_spec: TableSpec, schemas: dict[int, dict[str, Any]]
) -> None:
    runtime, _, kafka, producer = dead_lettering(engine, finding_spec, schemas)
    poison = KafkaMessage(TOPIC, 0, 5, b"k", b"\x00\x00\x00\x00\x01\xff")
    # Five rows, then a letter that ends the partition; then only a transaction's markers.
    kafka.script = [[*records(schemas, 0, 5), poison],
                    lambda consumer: consumer.step_over(TOPIC, 0, 9)]
    runtime.run_once()
    # No row carries the letter's offset: it is committed once the rows before it are in
    # and the letter is delivered, so the group's lag is 0, not 1 for ever.
    assert commits(kafka) == [{(TOPIC, 0): 6}]
    runtime.run_once()
    assert commits(kafka)[-1] == {(TOPIC, 0): 9}
    assert table_count(engine, finding_spec) == 5
    assert producer.pending == []
