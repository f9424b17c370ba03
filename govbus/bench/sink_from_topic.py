"""Sink throughput from a pre-filled theme topic, next to a bare loop measured in the same run.

- pre-fill: N synthetic individual profiles, encoded as the theme stage would (Confluent
  framing, registry ids), keyed by person key, into the topic given (a catalog topic in a
  benchmark namespace);
- bare loop: the same messages, read back into memory, cut into the same batches (per
  partition, ``batch_rows`` each), decoded, built into Arrow and inserted with their tokens:
  what sinking costs without Kafka and without the sink's bookkeeping;
- sink: the real ``SinkStep`` and ``ClickHouseWriter`` on the topic, in a new consumer
  group, counted from its first message to the commit of its last row (the group's join
  wait is not in it).

Both insert into the same engine, into two tables of the same spec.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition

from govbus.bench.latency import LatencyRecorder, LatencyResult, publish_at_rate, summarize
from ops.runtime.gc_policy import tune_gc
from sinks.clickhouse.arrow_batch import ArrowBatchBuilder
from sinks.clickhouse.backend import ClickHouseBackend, SerializedBackend
from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.schema_manager import SchemaManager
from sinks.clickhouse.sealed_batch import dedup_token
from sinks.clickhouse.tables import entity_key_field
from sinks.clickhouse.writer import ClickHouseWriter
from sinks.service import sink_runtime
from sinks.step import SinkStep
from topics.catalog import Topic
from topics.registry import SchemaRegistry
from topics.serde import AvroDecoder, AvroEncoder

DISTRICTS = ("东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区", "通州区", "顺义区")
DIVISIONS = ("110101", "110102", "110105", "110108", "110106", "110107", "110112", "110113")
ETHNICITIES = ("汉族", "回族", "满族", "蒙古族", "壮族")
BASE_MS = 1_700_000_000_000


@dataclass(frozen=True, slots=True)
class ThroughputResult:
    rows: int
    partitions: int
    batch_rows: int
    bare_rows_per_s: float
    sink_rows_per_s: float
    decode_rows_per_s: float
    bare_us_per_row: dict[str, float]

    @property
    def ratio(self) -> float:
        return self.sink_rows_per_s / self.bare_rows_per_s if self.bare_rows_per_s else 0.0

    def lines(self) -> list[str]:
        return [
            f"rows:                              {self.rows:,} profiles in {self.partitions} "
            f"partitions, batches of {self.batch_rows:,}",
            f"decode only (Avro):                {self.decode_rows_per_s:>10,.0f} rows/s",
            f"bare loop (decode + Arrow insert): {self.bare_rows_per_s:>10,.0f} rows/s  ("
            + ", ".join(f"{k} {v:.1f}" for k, v in self.bare_us_per_row.items())
            + " us/row)",
            f"sink (Kafka -> chDB, committed):   {self.sink_rows_per_s:>10,.0f} rows/s",
            f"ratio:                             {self.ratio:.0%} of the bare loop",
        ]


def individual_profile(i: int, rng: random.Random, now_ms: int = BASE_MS) -> dict[str, Any]:
    """A plausible 人口库 profile (std values: masked, generalized)."""
    district = rng.randrange(len(DISTRICTS))
    key = f"k1:{zlib.crc32(str(i).encode()):08x}{i:010d}"
    year = rng.randint(1935, 2023)
    return {
        "person_key": key,
        "id_masked": f"{DIVISIONS[district]}***********{rng.choice('0123456789X')}",
        "name": rng.choice("王李张刘陈杨赵黄周吴") + "*" * rng.randint(1, 2),
        "sex": rng.choice(("1", "2")),
        "birth_year": str(year),
        "ethnicity": rng.choice(ETHNICITIES),
        "division_code": DIVISIONS[district],
        "district": f"北京市{DISTRICTS[district]}",
        "phone_masked": f"1{rng.randint(30, 99)}****{rng.randint(0, 9999):04d}",
        "household_status": "正常",
        "marital_status": rng.choice((None, "married", "divorced")),
        "links": [
            {"relation": "licence", "category": "thing", "key": f"licence:driving:{i:012d}"},
            {"relation": "event", "category": "event", "key": f"civil.marriage:{i}"},
        ],
        "candidates": (
            [{"attribute": "phone_masked", "value": "139****0000", "dept": "market",
              "source_ts_ms": now_ms - 86_400_000}]
            if i % 5 == 0
            else []
        ),
        "sources": ["household", "civil"],
        "version": 1 + i % 3,
        "source_ts_ms": now_ms,
        "updated_ms": now_ms + 5,
        "deleted": False,
    }


def profiles(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(count):
        yield individual_profile(i, rng, BASE_MS + i)


def prefill(
    connection: Mapping[str, Any],
    registry: SchemaRegistry,
    topic: Topic,
    records: Iterator[dict[str, Any]],
) -> int:
    """Publish profiles keyed by their entity key; returns how many."""
    assert topic.key_schema is not None and topic.value_schema is not None
    key_schema, value_schema = topic.key_schema(), topic.value_schema()
    encode_key = AvroEncoder(key_schema, registry.register(topic.key_subject, key_schema))
    encode_value = AvroEncoder(value_schema, registry.register(topic.value_subject, value_schema))
    producer = Producer(
        {**connection, "linger.ms": 50, "enable.idempotence": True,
         "compression.type": "lz4", "queue.buffering.max.messages": 500_000}
    )
    key_field = entity_key_field(value_schema)
    sent = 0
    for record in records:
        key = encode_key.encode(record[key_field])
        producer.produce(
            topic.name,
            key=key,
            value=encode_value.encode(record),
            partition=zlib.crc32(key) % topic.partitions,
        )
        sent += 1
        if sent % 10_000 == 0:
            producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("pre-fill: messages still undelivered after 120 s")
    return sent


Fetched = dict[int, list[tuple[int, bytes | None, bytes | None]]]


def read_back(connection: Mapping[str, Any], topic: str, partitions: int) -> Fetched:
    """Every message of the topic as bytes, by partition, in offset order."""
    consumer = Consumer(
        {**connection, "group.id": f"bench-reader-{uuid.uuid4().hex[:8]}",
         "enable.auto.commit": False}
    )
    try:
        assignment = [KafkaTopicPartition(topic, p, 0) for p in range(partitions)]
        ends = {p: consumer.get_watermark_offsets(assignment[p], timeout=10)[1]
                for p in range(partitions)}
        consumer.assign(assignment)
        fetched: Fetched = {p: [] for p in range(partitions)}
        remaining = sum(ends.values())
        while remaining > 0:
            for message in consumer.consume(10_000, timeout=1.0):
                if message.error() is None:
                    partition = message.partition()
                    assert partition is not None
                    fetched[partition].append(
                        (message.offset() or 0, message.key(), message.value())
                    )
                    remaining -= 1
        return fetched
    finally:
        consumer.close()


def bare_loop(
    backend: ClickHouseBackend,
    spec: TableSpec,
    topic: str,
    fetched: Fetched,
    fetch_schema: Callable[[int], str],
    batch_rows: int,
) -> tuple[float, float, dict[str, float]]:
    """Rows/s of decode + Arrow build + insert over the same batches, decode alone, and the
    bare loop's microseconds per row in each step."""
    decoder = AvroDecoder(fetch_schema)
    builder = ArrowBatchBuilder(spec)
    batches = [
        (partition, messages[first : first + batch_rows])
        for partition, messages in fetched.items()
        for first in range(0, len(messages), batch_rows)
    ]
    rows = sum(len(b) for _, b in batches)
    for _, batch in batches[:1]:  # schemas fetched, pyarrow warmed up
        decoder.decode(batch[0][2] or b"")
    spent = {"decode": 0.0, "build": 0.0, "insert": 0.0}
    started = time.perf_counter()
    for partition, batch in batches:
        t0 = time.perf_counter()
        values = [decoder.decode(v) for _, _, v in batch if v is not None]
        offsets = [o for o, _, v in batch if v is not None]
        token = dedup_token(topic, partition, batch[0][0], batch[-1][0])
        t1 = time.perf_counter()
        table = builder.build(values, topic, partition, offsets, 1, token)
        t2 = time.perf_counter()
        backend.insert_arrow(spec.qualified_name, table, token)
        t3 = time.perf_counter()
        spent["decode"] += t1 - t0
        spent["build"] += t2 - t1
        spent["insert"] += t3 - t2
    bare_s = time.perf_counter() - started
    started = time.perf_counter()
    for _, batch in batches:
        for _, _, value in batch:
            if value is not None:
                decoder.decode(value)
    decode_s = time.perf_counter() - started
    return rows / bare_s, rows / decode_s, {k: v / rows * 1e6 for k, v in spent.items()}


def sink_run(
    backend: ClickHouseBackend,
    spec: TableSpec,
    connection: Mapping[str, Any],
    topic: str,
    rows: int,
    fetch_schema: Callable[[int], str],
    batch_rows: int,
    batch_seconds: float,
    timeout_s: float = 600.0,
) -> float:
    """Rows/s of the real sink (as `govbus sink run` wires it), first message to last
    commit."""
    writer = ClickHouseWriter(
        SerializedBackend(backend), spec, max_rows=batch_rows, max_seconds=batch_seconds,
        background=True,
    )
    step = SinkStep(routes={topic: writer}, fetch_schema=fetch_schema, poll_seconds=0.1)
    runtime = sink_runtime(connection, f"bench-sink-{uuid.uuid4().hex[:8]}", step, 5000)
    step.prepare()
    runtime.start()
    try:
        started: float | None = None
        deadline = time.monotonic() + timeout_s
        while sum(runtime.committed.values()) < rows:
            if time.monotonic() > deadline:
                done = sum(runtime.committed.values())
                raise TimeoutError(f"sink committed {done} of {rows}")
            taken = runtime.run_once()
            if started is None and taken:
                started = time.perf_counter()
        assert started is not None
        return rows / (time.perf_counter() - started)
    finally:
        runtime.consumer.close()
        writer.close()


def _count(backend: ClickHouseBackend, spec: TableSpec, final: bool = False) -> int:
    suffix = " FINAL" if final else ""
    return int(backend.query(f"SELECT count() FROM {spec.qualified_name}{suffix}").rows[0][0])


def _wait_for_merges(backend: ClickHouseBackend, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not int(backend.query("SELECT count() FROM system.merges").rows[0][0]):
            return
        time.sleep(0.2)


def bench_from_topic(
    backend: ClickHouseBackend,
    spec: TableSpec,
    connection: Mapping[str, Any],
    registry: SchemaRegistry,
    topic: Topic,
    rows: int,
    batch_rows: int = 10_000,
    batch_seconds: float = 0.5,
) -> ThroughputResult:
    """Pre-fill ``topic`` with ``rows`` individual profiles; bare loop, then the sink, both
    with the garbage collector as the sink process has it."""
    tune_gc()
    prefill(connection, registry, topic, profiles(rows))
    fetched = read_back(connection, topic.name, topic.partitions)
    bare_spec = replace(spec, name=f"{spec.name}_bare")
    sink_spec = replace(spec, name=f"{spec.name}_sink")
    manager = SchemaManager(backend)
    try:
        for each in (bare_spec, sink_spec):
            backend.execute(f"DROP TABLE IF EXISTS {each.qualified_name}")
            manager.ensure_table(each)
        bare, decode, steps = bare_loop(
            backend, bare_spec, topic.name, fetched, registry.schema_by_id, batch_rows
        )
        bare_rows = _count(backend, bare_spec)
        # The bare table's background merges would slow the sink down: gone before it runs.
        backend.execute(f"DROP TABLE IF EXISTS {bare_spec.qualified_name}")
        _wait_for_merges(backend)
        sink = sink_run(
            backend, sink_spec, connection, topic.name, rows, registry.schema_by_id,
            batch_rows, batch_seconds,
        )
        sink_rows = _count(backend, sink_spec, final=True)
        if (bare_rows, sink_rows) != (rows, rows):
            raise AssertionError(
                f"expected {rows} profiles in both tables, found {bare_rows} and {sink_rows}"
            )
    finally:
        for each in (bare_spec, sink_spec):
            backend.execute(f"DROP TABLE IF EXISTS {each.qualified_name}")
    return ThroughputResult(rows, topic.partitions, batch_rows, bare, sink, decode, steps)



def sink_latency(
    backend: ClickHouseBackend,
    spec: TableSpec,
    connection: Mapping[str, Any],
    registry: SchemaRegistry,
    topic: Topic,
    rate: float = 1000.0,
    duration_s: float = 20.0,
    batch_rows: int = 10_000,
    batch_seconds: float = 0.5,
) -> LatencyResult:
    """Sink-stage latency: profiles published at ``rate`` with their source time = the send
    time, consumed by the real sink; a row counts once its insert is acknowledged."""
    assert topic.key_schema is not None and topic.value_schema is not None
    key_schema, value_schema = topic.key_schema(), topic.value_schema()
    encode_key = AvroEncoder(key_schema, registry.register(topic.key_subject, key_schema))
    encode_value = AvroEncoder(value_schema, registry.register(topic.value_subject, value_schema))
    key_field = entity_key_field(value_schema)
    live_spec = replace(spec, name=f"{spec.name}_latency")
    backend.execute(f"DROP TABLE IF EXISTS {live_spec.qualified_name}")
    since_ms = time.time_ns() // 1_000_000
    recorder = LatencyRecorder(since_ms)
    writer = ClickHouseWriter(
        SerializedBackend(backend), live_spec, max_rows=batch_rows, max_seconds=batch_seconds,
        observer=recorder, background=True,
    )
    group = f"bench-latency-{uuid.uuid4().hex[:8]}"
    _start_at_end(connection, group, topic)
    step = SinkStep(routes={topic.name: writer}, fetch_schema=registry.schema_by_id,
                    poll_seconds=0.05)
    runtime = sink_runtime(connection, group, step, overrides={"fetch.wait.max.ms": 20})
    producer = Producer({**connection, "linger.ms": 5,
                         "enable.idempotence": True})
    rng = random.Random(11)
    published = [0]

    def publish(i: int, source_ts_ms: int) -> None:
        record = individual_profile(10_000_000 + i, rng, source_ts_ms)
        key = encode_key.encode(record[key_field])
        producer.produce(topic.name, key=key, value=encode_value.encode(record),
                         partition=zlib.crc32(key) % topic.partitions)
        producer.poll(0)

    def publisher() -> None:
        published[0] = publish_at_rate(publish, rate, duration_s)
        producer.flush(30)

    step.prepare()
    runtime.start()
    try:
        deadline = time.monotonic() + 60
        while len(runtime.assignment) < topic.partitions and time.monotonic() < deadline:
            runtime.run_once()
        thread = threading.Thread(target=publisher, name="bench-publisher", daemon=True)
        thread.start()
        drain_until = None
        while drain_until is None or time.monotonic() < drain_until:
            runtime.run_once()
            if drain_until is None and not thread.is_alive():
                drain_until = time.monotonic() + 10
            if drain_until is not None and len(recorder.latencies_s) >= published[0]:
                break
        runtime.finish()
    finally:
        runtime.consumer.close()
        writer.close()
        backend.execute(f"DROP TABLE IF EXISTS {live_spec.qualified_name}")
    return summarize(recorder.latencies_s, rate, published[0])


def _start_at_end(connection: Mapping[str, Any], group: str, topic: Topic) -> None:
    """Commit the partitions' current ends for a new group: it reads what comes next only
    (``auto.offset.reset=latest`` would resolve "latest" late and skip the first events)."""
    consumer = Consumer({**connection, "group.id": group,
                         "enable.auto.commit": False})
    try:
        ends = []
        for partition in range(topic.partitions):
            tp = KafkaTopicPartition(topic.name, partition)
            ends.append(KafkaTopicPartition(
                topic.name, partition, consumer.get_watermark_offsets(tp, timeout=10)[1]
            ))
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()
