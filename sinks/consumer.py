"""The sink's Kafka side: consume, decode, hand to the writers, commit what they acknowledged.

One consumer (one group) reads every topic of ``routes`` and hands each message to its
topic's writer; several topics may share a writer (the fact topics all land in one table).
Offsets are committed by hand and only those ``ClickHouseWriter.flush`` returns, so a row
reaches ClickHouse before its offset is committed. While ClickHouse is unavailable the
partitions with waiting batches are paused (the broker keeps the messages, this process does
not pile them up) and resumed once their writer has caught up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

from sinks.clickhouse.writer import ClickHouseWriter, SinkRejectedError, SinkUnavailableError
from sinks.message import SinkMessage, TopicPartition
from topics.headers import version_of
from topics.serde import AvroDecoder, UndecodableMessageError, schema_id_of

log = logging.getLogger(__name__)

ConsumerFactory = Callable[[dict[str, Any]], Any]


class SinkConsumer:
    """Topics into their writers through one consumer; run one per process."""

    def __init__(
        self,
        *,
        connection: Mapping[str, Any],
        group_id: str,
        routes: Mapping[str, ClickHouseWriter],
        fetch_schema: Callable[[int], str],
        poll_seconds: float = 0.2,
        poll_messages: int = 2000,
        extra_config: Mapping[str, Any] | None = None,
        consumer_factory: ConsumerFactory = Consumer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not routes:
            raise ValueError("a sink consumer needs at least one topic")
        self.routes = dict(routes)
        self.writers: tuple[ClickHouseWriter, ...] = tuple(
            {id(w): w for w in self.routes.values()}.values()
        )
        self.poll_seconds = poll_seconds
        self.poll_messages = poll_messages
        self._clock = clock  # the writers' clock
        self.messages_read = 0
        self._decoder = AvroDecoder(fetch_schema)
        self._known_schema_ids: dict[int, set[int]] = {id(w): set() for w in self.writers}
        self._paused: set[TopicPartition] = set()
        self._assignment: set[TopicPartition] = set()
        self.committed: dict[TopicPartition, int] = {}
        self._uncommitted: dict[TopicPartition, int] = {}  # inserted; the commit failed
        self._warned: dict[int, float] = {}
        config: dict[str, Any] = {
            **connection,
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # A sink killed without leaving the group holds its partitions until the session
            # times out; its restart waits that long (librdkafka's default is 45 s).
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 2_000,
            **(extra_config or {}),
        }
        self._consumer = consumer_factory(config)

    @property
    def writer(self) -> ClickHouseWriter:
        """The writer, when there is only one."""
        if len(self.writers) != 1:
            raise AttributeError("this consumer feeds several writers; see .writers")
        return self.writers[0]

    @property
    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(self._assignment)

    def prepare(self) -> None:
        """Create or evolve every table, then subscribe."""
        for writer in self.writers:
            writer.prepare()
        self._consumer.subscribe(
            list(self.routes), on_assign=self._assigned, on_revoke=self._revoked
        )

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set; then insert and commit what is held, and leave."""
        self.prepare()
        try:
            while not stop.is_set():
                self.step()
            self.finish()
        finally:
            self.close()

    def finish(self) -> None:
        """Insert and commit what is held (batches inside a recorded range stay unread)."""
        self._flush(self.writers, force=True)

    def close(self) -> None:
        self._consumer.close()

    def lag(self) -> dict[TopicPartition, int]:
        """Messages behind the high watermark per assigned partition (from the last fetch)."""
        lags: dict[TopicPartition, int] = {}
        for tp in self._assignment:
            try:
                _, high = self._consumer.get_watermark_offsets(
                    KafkaTopicPartition(tp.topic, tp.partition), cached=True
                )
            except KafkaException:
                continue
            if high is not None and high >= 0:
                lags[tp] = max(0, high - self.committed.get(tp, 0))
        return lags

    def step(self) -> int:
        """One poll, then whatever flush is due; returns the messages taken."""
        # consume() returns at its timeout unless it has filled the batch, so a message may
        # have waited in it since the call: its batch's age counts from then. Counted from
        # the return instead, a row waited up to a poll longer than the batch time.
        polled_at = self._clock()
        messages = self._consumer.consume(self.poll_messages, self._timeout())
        for message in messages:
            error = message.error()
            if error is not None:
                self._on_error(error)
                continue
            decoded = self._decoded(message)
            self.routes[decoded.topic].add(decoded, waiting_since=polled_at)
        self.messages_read += len(messages)
        due = [w for w in self.writers if w.due()]
        if due:
            self._flush(due, force=False)
        return len(messages)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        if error.fatal():
            raise KafkaException(error)
        # Transient or external (a topic not created yet, a broker restarting): librdkafka
        # retries by itself; say so once a minute per kind.
        now = time.monotonic()
        if now >= self._warned.get(error.code(), 0.0):
            self._warned[error.code()] = now + 60
            log.warning("consumer: %s", error.str())

    @property
    def pending_messages(self) -> int:
        return sum(w.pending_messages for w in self.writers)

    def _timeout(self) -> float:
        if self._paused:
            waits = [w.retry_in() for w in self.writers if w.backlogged()]
            return min(self.poll_seconds, max(min(waits, default=0.0), 0.01))
        # consume() waits out its timeout when messages trickle in: wake up when the next
        # batch is due, so a batch goes in on time rather than up to a poll late.
        due = [d for w in self.writers if (d := w.due_in()) is not None]
        return min(self.poll_seconds, max(min(due, default=self.poll_seconds), 0.005))

    def _decoded(self, message: Message) -> SinkMessage:
        value_bytes = message.value()
        key_bytes = message.key() if value_bytes is None else None
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is None or partition is None or offset is None:
            raise UndecodableMessageError("sink.no_position", "message without topic/offset")
        if value_bytes is None:
            # A tombstone: the key is all it says (which entity is gone).
            key = self._decoder.decode(key_bytes) if key_bytes else None
            return SinkMessage(topic, partition, offset, key, None, version_of(message.headers()))
        self._follow_schema(self.routes[topic], value_bytes)
        # A record carries its key in its value; the key is not decoded (a decode each).
        return SinkMessage(topic, partition, offset, None, self._decoder.decode(value_bytes))

    def _follow_schema(self, writer: ClickHouseWriter, value_bytes: bytes) -> None:
        schema_id = schema_id_of(value_bytes)
        known = self._known_schema_ids[id(writer)]
        if schema_id in known:
            return
        # The decoder's one fetch, which waits out a registry outage; an id is known only
        # once fetched, so one that failed is asked for again.
        schema = self._decoder.writer_declaration(schema_id)
        known.add(schema_id)
        current = {f["name"] for f in writer.spec.schema["fields"]}
        if {f["name"] for f in schema["fields"]} - current:
            # The columns for the new fields are added before the next insert, so before any
            # row carrying them; rows of an older writer schema get the columns' defaults.
            plan = writer.evolve(schema)
            log.info(
                "%s: schema %s added columns %s",
                writer.spec.name,
                schema_id,
                [c.name for c in plan.add],
            )

    def _flush(self, writers: Iterable[ClickHouseWriter], force: bool) -> None:
        offsets: dict[TopicPartition, int] = {}
        rejected: SinkRejectedError | None = None
        for writer in writers:
            try:
                offsets.update(writer.flush(force=force))
            except SinkUnavailableError as exc:
                offsets.update(exc.committable)
                newly = set(exc.partitions) - self._paused
                if newly:
                    self._consumer.pause([KafkaTopicPartition(t, p) for t, p in newly])
                    self._paused |= newly
                log.warning(
                    "ClickHouse unavailable for %s, paused %d partitions: %s",
                    writer.spec.name,
                    len(newly),
                    exc,
                )
            except SinkRejectedError as exc:
                offsets.update(exc.committable)
                rejected = exc
                break
        self._commit(offsets)
        if rejected is not None:
            raise rejected
        backlogged: set[TopicPartition] = set()
        for writer in self.writers:
            backlogged |= writer.backlogged()
        resumable = self._paused - backlogged
        if resumable:
            self._consumer.resume([KafkaTopicPartition(t, p) for t, p in resumable])
            self._paused -= resumable

    def _commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commits what was inserted. A commit the broker could not take (its coordinator
        moving, a broker restarting) is retried with the next flush, not fatal: the rows are
        in ClickHouse already, and a restart or a new owner skips inserts left uncommitted."""
        pending = {**self._uncommitted, **offsets}
        if not pending:
            return
        try:
            self._consumer.commit(
                offsets=[KafkaTopicPartition(t, p, o) for (t, p), o in pending.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if error is None or error.fatal():
                raise
            if not self._uncommitted:
                log.warning("commit of %d partitions deferred: %s; retried with the next "
                            "flush", len(pending), error.str())
            self._uncommitted = pending
            return
        if self._uncommitted:
            log.info("deferred commit done (%d partitions)", len(pending))
        self._uncommitted = {}
        self.committed.update(pending)

    def _assigned(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        for committed in consumer.committed(partitions, timeout=10):
            # No commit yet means reading from the start: recover from there too, so a
            # group that inserted but never committed does not insert twice.
            start = committed.offset if committed.offset >= 0 else 0
            tp = TopicPartition(committed.topic, committed.partition)
            self.committed[tp] = start
            found = self.routes[tp.topic].recover(tp, start)
            if found:
                log.info("%s: %d uncommitted inserts to skip again", tp, found)
            self._assignment.add(tp)

    def _revoked(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        revoked = [TopicPartition(p.topic, p.partition) for p in partitions]
        try:
            self._flush(self.writers, force=True)
        except SinkRejectedError:
            log.exception("a batch was refused while giving partitions up")
        for writer in self.writers:
            writer.forget(revoked)
        self._paused -= set(revoked)
        self._assignment -= set(revoked)
        for tp in revoked:
            self.committed.pop(tp, None)
            self._uncommitted.pop(tp, None)
