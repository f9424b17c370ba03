"""Reads a topic from the start or the end and decodes its messages, for tools and tests."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

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

    def chunks_to_end(self, size: int, timeout_s: float = 30.0) -> Iterator[list[Any]]:
        """Every message up to each partition's end as of now, undecoded (confluent-kafka's
        messages), at most ``size`` at a time: a caller done with a chunk before asking for
        the next holds one chunk, whatever the topic's size. ``timeout_s``: the longest wait
        for the next chunk."""
        ends: dict[int, int] = {}
        for tp in self.consumer.assignment():
            low, high = self.consumer.get_watermark_offsets(tp, timeout=10)
            if high > low:
                ends[tp.partition] = high
        try:
            yield from chunks_to_ends(self.consumer, ends, size, timeout_s, self.topic)
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


class ChunkConsumer(Protocol):
    def consume(self, num_messages: int, timeout: float) -> list[Any]: ...


def chunks_to_ends(consumer: ChunkConsumer, ends: Mapping[int, int], size: int,
                   timeout_s: float, topic: str = "") -> Iterator[list[Any]]:
    """The messages of an assigned topic up to ``ends`` (partition -> end offset, partitions
    with nothing to read left out), in chunks of at most ``size``. Messages written after
    the ends were taken are not read: a reader keeps up with a topic that grows meanwhile."""
    left = dict(ends)
    waited_since = time.monotonic()
    while left:
        if time.monotonic() - waited_since > timeout_s:
            raise TimeoutError(f"{topic}: not read to its end (no message in {timeout_s:.0f} s)")
        chunk = []
        for message in consumer.consume(num_messages=size, timeout=0.5):
            partition, offset = message.partition() or 0, message.offset() or 0
            error = message.error()
            if error is not None:
                # The end of the partition: in a topic written in transactions its last
                # offset is a commit marker, never delivered.
                if error.code() == KafkaError._PARTITION_EOF:
                    left.pop(partition, None)
                continue
            end = left.get(partition)
            if end is None or offset >= end:
                continue  # written after the ends were taken
            if offset + 1 >= end:
                left.pop(partition)
            chunk.append(message)
        if chunk:
            waited_since = time.monotonic()
            yield chunk
