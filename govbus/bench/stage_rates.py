"""Standardize benchmark: a worker's sustained events/s on the broker next to a bare loop.

The bare loop is the processor itself (decode, rules, masking, encode) over the same raw
messages held in memory with a no-op output: what the stage costs without Kafka.
The worker figure counts from its first output to its last, so start-up and the group's
rebalance are not in it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from ops.runtime.gc_policy import tune_gc
from ops.runtime.messages import InputMessage
from streams.processors.raw import RawLayerProcessor
from streams.stages.masking.pseudonym import Pseudonymizer
from topics.annotations import Category
from topics.catalog import Catalog
from topics.serde import AvroDecoder


@dataclass(frozen=True)
class StageBenchResult:
    events: int
    bare_per_s: float
    stage_per_s: float

    @property
    def ratio(self) -> float:
        return self.stage_per_s / self.bare_per_s


class _Discard:
    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Any = None, partition: int = -1) -> None:
        pass


def read_raw(connection: Mapping[str, Any], topics: list[str]) -> list[InputMessage]:
    """Every message of the topics, as bytes, from the beginning."""
    consumer = Consumer({**connection, "group.id": "govbus-bench-reader",
                         "enable.auto.commit": False})
    assignment = [TopicPartition(t, p, 0) for t in topics
                  for p in consumer.list_topics(t, timeout=10).topics[t].partitions]
    ends = {(tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=10)[1]
            for tp in assignment}
    consumer.assign(assignment)
    messages: list[InputMessage] = []
    remaining = sum(ends.values())
    while remaining > 0:
        for m in consumer.consume(10_000, timeout=1.0):
            if m.error() is None:
                messages.append(InputMessage.from_kafka(m))
                remaining -= 1
    consumer.close()
    return messages


def bare_rate(catalog: Catalog, messages: list[InputMessage],
              fetch_schema: Callable[[int], str],
              schema_ids: Callable[[str, dict[str, Any]], int],
              pseudonymizer: Pseudonymizer, batch_size: int) -> float:
    """Events/s of the raw layer's per-event work, in the worker's batches."""
    processor = RawLayerProcessor(catalog, AvroDecoder(fetch_schema), schema_ids, pseudonymizer,
                                  _Discard())
    processor.process(messages[:2000])  # warm caches (schemas, code tables)
    tune_gc()  # as the worker does
    started = time.perf_counter()
    for start in range(0, len(messages), batch_size):
        processor.process(messages[start:start + batch_size])
    return len(messages) / (time.perf_counter() - started)


def output_count(consumer: Consumer, topics: list[str]) -> int:
    total = 0
    for topic in topics:
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            total += consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                    timeout=10, cached=False)[1]
    return total


def first_output(connection: Mapping[str, Any], topics: list[str], alive: Callable[[], bool],
                 timeout_s: float = 120.0) -> float:
    """The monotonic time at which the topics got their first message."""
    consumer = Consumer({**connection, "group.id": "govbus-bench-watch"})
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and alive():
            if output_count(consumer, topics) > 0:
                return time.monotonic()
            time.sleep(0.05)
        raise RuntimeError("the worker produced nothing in time")
    finally:
        consumer.close()


def drain_rate(connection: Mapping[str, Any], output_topics: list[str], expected: int,
               timeout_s: float = 600.0, alive: Callable[[], bool] = lambda: True) -> float:
    """Outputs/s from the first output to the last, counted by the topics' end offsets."""
    consumer = Consumer({**connection, "group.id": "govbus-bench-watch"})
    try:
        deadline = time.monotonic() + timeout_s
        first_at = None
        first_count = 0
        while time.monotonic() < deadline and alive():
            count = output_count(consumer, output_topics)
            now = time.monotonic()
            if first_at is None and count > 0:
                first_at, first_count = now, count
            if count >= expected and first_at is not None:
                return (count - first_count) / max(now - first_at, 1e-6)
            time.sleep(0.1)
        raise RuntimeError(f"the worker did not produce {expected} outputs in time")
    finally:
        consumer.close()


class _Capture:
    """Keeps produced fact messages so the bare loop can feed them to the theme processor."""

    def __init__(self, topics: set[str]) -> None:
        self.topics = topics
        self.messages: list[InputMessage] = []

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Any = None, partition: int = -1) -> None:
        if topic in self.topics:
            self.messages.append(InputMessage(topic, 0, len(self.messages), key, value))


def bare_raw_to_theme_rate(catalog: Catalog, messages: list[InputMessage],
                           fetch_schema: Callable[[int], str],
                           schema_ids: Callable[[str, dict[str, Any]], int],
                           pseudonymizer: Pseudonymizer, batch_size: int) -> tuple[float, int]:
    """Events/s of the whole per-event work of both layers, and how many facts it made.

    The theme layer's store is the worker's own (states serialized, changelog records made),
    its changelog output discarded; every fact counts as partition 0.
    """
    from streams.processors.theme import ThemeProcessor
    from streams.runtime.state_store import ChangelogStore, MemoryBackend
    from streams.stages.enrich.profile import ProfileState

    theme = ThemeProcessor(catalog, AvroDecoder(fetch_schema), schema_ids, _Discard())
    capture = _Capture(set(theme.input_topics))
    raw = RawLayerProcessor(catalog, AvroDecoder(fetch_schema), schema_ids, pseudonymizer,
                            capture)
    store = ChangelogStore("changelog", _Discard(), MemoryBackend(), None,
                           ProfileState.to_bytes, ProfileState.from_bytes)
    store.own((str(category), 0) for category in Category)
    raw.process(messages[:2000])  # warm caches
    capture.messages.clear()
    tune_gc()  # as the worker does
    total_facts = 0
    started = time.perf_counter()
    for start in range(0, len(messages), batch_size):
        capture.messages.clear()
        total_facts += raw.process(messages[start:start + batch_size]).facts
        theme.process([(m, 0) for m in capture.messages], store)
    elapsed = time.perf_counter() - started
    return len(messages) / elapsed, total_facts


def committed_total(consumer: Consumer, group_topics: list[str]) -> int:
    """Sum of the consumer's group's committed offsets over the topics' partitions."""
    partitions = [TopicPartition(t, p) for t in group_topics
                  for p in consumer.list_topics(t, timeout=10).topics[t].partitions]
    return sum(max(tp.offset, 0) for tp in consumer.committed(partitions, timeout=10))
