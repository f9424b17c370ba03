"""Reads a topic from the start or the end and decodes its messages, for tools and tests."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, TopicPartition

from topics.registry import SchemaRegistry
from topics.serde import AvroDecoder, UndecodableMessageError


@dataclass(frozen=True)
class ReadMessage:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: dict[str, Any] | None
    value: dict[str, Any] | None  # None for a tombstone
    headers: dict[str, str]
    raw_value: bytes | None
    raw_key: bytes | None = None
    error: str | None = None  # set when the bytes could not be decoded


class TopicReader:
    """Assigns every partition of one topic (no consumer group, nothing committed)."""

    def __init__(
        self,
        connection: Mapping[str, Any],
        registry: SchemaRegistry,
        topic: str,
        from_beginning: bool = True,
    ) -> None:
        self.topic = topic
        self.consumer = Consumer(
            {
                **connection,
                "group.id": "govbus-reader",  # required by librdkafka; never committed
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        metadata = self.consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            self.consumer.close()
            raise KeyError(f"topic {topic!r} does not exist on the cluster")
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        self.consumer.assign([TopicPartition(topic, p, start) for p in metadata.partitions])
        self.decoder = AvroDecoder(registry.schema_by_id)

    def messages(
        self,
        max_messages: int | None = None,
        idle_timeout_s: float = 5.0,
    ) -> Iterator[ReadMessage]:
        """Messages until max_messages, or until none arrived for idle_timeout_s."""
        count = 0
        last_seen = time.monotonic()
        try:
            while max_messages is None or count < max_messages:
                message = self.consumer.poll(0.2)
                if message is None:
                    if time.monotonic() - last_seen > idle_timeout_s:
                        return
                    continue
                if message.error():
                    continue
                last_seen = time.monotonic()
                count += 1
                yield self._decode(message)
        finally:
            self.consumer.close()

    def messages_to_end(self, timeout_s: float = 30.0) -> Iterator[ReadMessage]:
        """Every message up to each partition's end as of now (no idle wait at the end)."""
        ends: dict[int, int] = {}
        for tp in self.consumer.assignment():
            low, high = self.consumer.get_watermark_offsets(tp, timeout=10)
            if high > low:
                ends[tp.partition] = high
        deadline = time.monotonic() + timeout_s
        try:
            while ends:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.topic}: not read to its end in {timeout_s:.0f} s")
                message = self.consumer.poll(0.2)
                if message is None:
                    continue
                partition, offset = message.partition() or 0, message.offset() or 0
                error = message.error()
                if error is not None:
                    # The end of the partition: in a topic written in transactions its last
                    # offset is a commit marker, never delivered.
                    if error.code() == KafkaError._PARTITION_EOF:
                        ends.pop(partition, None)
                    continue
                if offset + 1 >= ends.get(partition, 0):
                    ends.pop(partition, None)
                yield self._decode(message)
        finally:
            self.consumer.close()

    def _decode(self, message: Any) -> ReadMessage:
        raw_key, raw_value = message.key(), message.value()
        key = value = None
        error = None
        try:
            key = self.decoder.decode(raw_key) if raw_key else None
            value = self.decoder.decode(raw_value) if raw_value is not None else None
        except UndecodableMessageError as exc:
            error = str(exc)
        headers = {k: (v.decode(errors="replace") if v else "") for k, v in message.headers() or []}
        return ReadMessage(
            message.topic(),
            message.partition(),
            message.offset(),
            message.timestamp()[1],
            key,
            value,
            headers,
            raw_value,
            raw_key=raw_key,
            error=error,
        )
