"""The sink's Kafka side: consume, decode, hand to the writer, commit what it acknowledged.

Offsets are committed by hand and only those ``ClickHouseWriter.flush`` returns, so a row
reaches ClickHouse before its offset is committed. While ClickHouse is unavailable the
partitions with waiting batches are paused (the broker keeps the messages, this process
does not pile them up) and resumed once the writer has caught up.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

from sinks.clickhouse.writer import ClickHouseWriter, SinkUnavailableError
from sinks.message import SinkMessage, TopicPartition
from topics.serde import AvroDecoder, UndecodableMessageError, schema_id_of

log = logging.getLogger(__name__)

ConsumerFactory = Callable[[dict[str, Any]], Any]


class SinkConsumer:
    """One topic into one writer; run one per process and partition set."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        topic: str,
        writer: ClickHouseWriter,
        fetch_schema: Callable[[int], str],
        poll_seconds: float = 0.2,
        poll_messages: int = 2000,
        extra_config: Mapping[str, Any] | None = None,
        consumer_factory: ConsumerFactory = Consumer,
    ) -> None:
        self.topic = topic
        self.writer = writer
        self.poll_seconds = poll_seconds
        self.poll_messages = poll_messages
        self._fetch_schema = fetch_schema
        self._decoder = AvroDecoder(fetch_schema)
        self._known_schema_ids: set[int] = set()
        self._paused: set[TopicPartition] = set()
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **(extra_config or {}),
        }
        self._consumer = consumer_factory(config)

    def run(self, stop: threading.Event) -> None:
        self.writer.prepare()
        self._consumer.subscribe([self.topic], on_assign=self._assigned, on_revoke=self._revoked)
        try:
            while not stop.is_set():
                self.step()
            self._flush(force=True)
        finally:
            self._consumer.close()

    def step(self) -> int:
        """One poll, then whatever flush is due; returns the messages taken."""
        messages = self._consumer.consume(self.poll_messages, self._timeout())
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(error)
            self.writer.add(self._decoded(message))
        if self.writer.due() or self._paused:
            self._flush(force=False)
        return len(messages)

    def _timeout(self) -> float:
        if self._paused:
            return min(self.poll_seconds, max(self.writer.retry_in(), 0.01))
        return self.poll_seconds

    def _decoded(self, message: Message) -> SinkMessage:
        value_bytes = message.value()
        key_bytes = message.key()
        value = None
        if value_bytes is not None:
            self._follow_schema(value_bytes)
            value = self._decoder.decode(value_bytes)
        key = self._decoder.decode(key_bytes) if key_bytes else None
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is None or partition is None or offset is None:
            raise UndecodableMessageError("sink.no_position", "message without topic/offset")
        return SinkMessage(topic, partition, offset, key, value)

    def _follow_schema(self, value_bytes: bytes) -> None:
        schema_id = schema_id_of(value_bytes)
        if schema_id in self._known_schema_ids:
            return
        self._known_schema_ids.add(schema_id)
        schema = json.loads(self._fetch_schema(schema_id))
        current = {f["name"] for f in self.writer.spec.schema["fields"]}
        if {f["name"] for f in schema["fields"]} - current:
            # Columns for the new fields exist before any row carrying them is inserted;
            # an older writer schema needs nothing (its missing fields get defaults).
            self._flush(force=True)
            plan = self.writer.evolve(schema)
            log.info("schema %s: added columns %s", schema_id, [c.name for c in plan.add])

    def _flush(self, force: bool) -> None:
        try:
            offsets = self.writer.flush(force=force)
        except SinkUnavailableError as exc:
            self._commit(exc.committable)
            newly = set(exc.partitions) - self._paused
            if newly:
                self._consumer.pause([KafkaTopicPartition(t, p) for t, p in newly])
                self._paused |= newly
            log.warning("ClickHouse unavailable, paused %d partitions: %s", len(newly), exc)
            return
        self._commit(offsets)
        resumable = self._paused - self.writer.backlogged()
        if resumable:
            self._consumer.resume([KafkaTopicPartition(t, p) for t, p in resumable])
            self._paused -= resumable

    def _commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        if offsets:
            self._consumer.commit(
                offsets=[KafkaTopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )

    def _assigned(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        for committed in consumer.committed(partitions, timeout=10):
            # No commit yet means reading from the start: recover from there too, so a
            # group that inserted but never committed does not insert twice.
            start = committed.offset if committed.offset >= 0 else 0
            self.writer.recover(TopicPartition(committed.topic, committed.partition), start)

    def _revoked(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        revoked = [TopicPartition(p.topic, p.partition) for p in partitions]
        try:
            self._commit(self.writer.flush(force=True))
        except SinkUnavailableError as exc:
            self._commit(exc.committable)
        self.writer.forget(revoked)
        self._paused -= set(revoked)
