"""Findings through the real broker and registry into the real embedded engine: every row
once, offsets committed after the insert, and a consumer that died before committing does
not make the next one insert twice."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition

from ops.kafka_client import kafka_config, registry_config
from ops.runtime.loop import ConsumerRuntime
from ops.settings import Settings
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.ddl import TableKind, TableSpec
from sinks.clickhouse.writer import ClickHouseWriter
from sinks.service import sink_runtime
from sinks.step import SinkStep
from topics.admin import TopicAdmin
from topics.catalog import Layer, Topic
from topics.registry import SchemaRegistry
from topics.schemas import load_avsc
from topics.serde import AvroEncoder

ROWS = 2500
PARTITIONS = 2
KEY_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Key",
    "namespace": "govbus.quality",
    "fields": [{"name": "finding_id", "type": "string"}],
}


def finding(i: int) -> dict[str, Any]:
    return {
        "finding_id": f"e{i}:citizen_id.check_digit:id_number",
        "event_id": f"e{i}",
        "stage": "standardize",
        "dept": "household",
        "source": "household.resident",
        "dimension": "validity",
        "reason": "citizen_id.check_digit",
        "field": "id_number",
        "outcome": "repaired",
        "detail": "",
        "source_ts_ms": 1_700_000_000_000 + i,
        "detected_ms": 1_700_000_000_500 + i,
    }


def publish(settings: Settings, topic_name: str) -> SchemaRegistry:
    registry = SchemaRegistry(registry_config(settings))
    topic = Topic(
        name=topic_name,
        layer=Layer.QUALITY,
        description="sink round trip",
        partitions=PARTITIONS,
        key_schema=lambda: KEY_SCHEMA,
        value_schema=lambda: load_avsc("quality/finding.avsc"),
    )
    TopicAdmin(kafka_config(settings), registry, settings.default_compatibility).apply([topic])
    key = AvroEncoder(KEY_SCHEMA, registry.register(topic.key_subject, KEY_SCHEMA))
    schema = load_avsc("quality/finding.avsc")
    value = AvroEncoder(schema, registry.register(topic.value_subject, schema))
    producer = Producer({**kafka_config(settings), "enable.idempotence": True})
    for i in range(ROWS):
        record = finding(i)
        producer.produce(
            topic_name,
            key=key.encode({"finding_id": record["finding_id"]}),
            value=value.encode(record),
            partition=i % PARTITIONS,
        )
        producer.poll(0)
    assert producer.flush(30) == 0
    return registry


def drain(sink: ConsumerRuntime, step: SinkStep) -> None:
    """Runs the loop until every row was sent to ClickHouse (or a deadline passes)."""
    step.prepare()
    sink.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sink.run_once()
        if step.writer.pending_messages == 0 and step.writer.rows_inserted >= ROWS:
            break
    sink.finish()
    sink.consumer.close()


def committed(settings: Settings, topic: str, group: str) -> int:
    probe = Consumer({**kafka_config(settings), "group.id": group})
    try:
        parts = [KafkaTopicPartition(topic, p) for p in range(PARTITIONS)]
        return sum(max(tp.offset, 0) for tp in probe.committed(parts, timeout=10))
    finally:
        probe.close()


def sink_for(
    settings: Settings, engine: ChdbBackend, registry: SchemaRegistry, topic: str, group: str
) -> tuple[ConsumerRuntime, SinkStep]:
    spec = TableSpec(
        name="finding",
        schema=load_avsc("quality/finding.avsc"),
        kind=TableKind.EVENT,
        order_by=("dept", "detected_ms", "finding_id"),
        database="sink_it",
    )
    writer = ClickHouseWriter(engine, spec, max_rows=400, max_seconds=0.3)
    step = SinkStep(routes={topic: writer}, fetch_schema=registry.schema_by_id,
                    poll_seconds=0.1)
    return sink_runtime(kafka_config(settings), group, step, batch_size=500), step


def test_rows_land_once_and_offsets_follow(stack: Settings, namespace: str, tmp_path: Path) -> None:
    topic = f"{namespace}quality.finding"
    registry = publish(stack, topic)
    engine = ChdbBackend(tmp_path / "chdb")
    try:
        # The first sink inserts everything but dies before any commit.
        crashed, crashed_step = sink_for(stack, engine, registry, topic, f"{namespace}sink")
        crashed._commit = lambda synchronous: None  # type: ignore[method-assign]
        drain(crashed, crashed_step)
        assert committed(stack, topic, f"{namespace}sink") == 0
        table = crashed_step.writer.spec.qualified_name
        assert engine.query(f"SELECT count() FROM {table}").rows == [(ROWS,)]

        # The next one reads everything again; the same cuts give the same tokens.
        again, again_step = sink_for(stack, engine, registry, topic, f"{namespace}sink")
        drain(again, again_step)
        assert again_step.writer.recovered_batches >= ROWS // 400
        assert committed(stack, topic, f"{namespace}sink") == ROWS
        rows = engine.query(f"SELECT count(), uniqExact(_partition, _offset) FROM {table}").rows
        assert rows == [(ROWS, ROWS)]
    finally:
        engine.close()
