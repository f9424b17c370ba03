"""The sink's step in the consumer runtime: decode, hand to the writers, acknowledge what
they inserted.

The runtime's one consumer (one group) reads every topic of ``routes``; each message goes to
its topic's writer, and several topics may share a writer (the fact topics all land in one
table). The offsets acknowledged are only those ``ClickHouseWriter.flush`` returns, so a row
reaches ClickHouse before its offset is committed. While ClickHouse is unavailable the
partitions with waiting batches are reported backlogged (the runtime pauses them: the broker
keeps the messages, this process does not pile them up) until their writer has caught up.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from ops import metrics
from ops.runtime.kafka_output import KafkaOutput
from ops.runtime.loop import Acknowledged, Batch
from ops.runtime.messages import InputMessage, Partition
from sinks.clickhouse.writer import ClickHouseWriter, SinkRejectedError, SinkUnavailableError
from sinks.message import SinkMessage, TopicPartition
from topics.dead_letters import SINK_BUILD, DeadLetterEmitter, Failure
from topics.headers import version_of
from topics.patience import RegistryUnavailableError
from topics.serde import (
    AvroDecoder,
    UndecodableMessageError,
    schema_id_of,
)

log = logging.getLogger(__name__)

STEP = "sink"  # the stage, as its DLQ (dlq.sink) and the metrics name it


class SinkStep:
    """Topics into their writers; one per sink process."""

    name = STEP
    reads_committed_offsets = True  # where a writer recovers the inserts of a crashed owner

    def __init__(
        self,
        *,
        routes: Mapping[str, ClickHouseWriter],
        fetch_schema: Callable[[int], str],
        poll_seconds: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        dead_letters: DeadLetterEmitter[KafkaOutput] | None = None,
    ) -> None:
        """``dead_letters``: where a message no row can be built of goes (the catalog's
        ``dlq("sink")``); without it such a message stops the sink (tests of the happy
        path)."""
        if not routes:
            raise ValueError("a sink needs at least one topic")
        self.routes = dict(routes)
        self.writers: tuple[ClickHouseWriter, ...] = tuple(
            {id(w): w for w in self.routes.values()}.values()
        )
        self.poll_seconds = poll_seconds
        self._clock = clock  # the writers' clock
        self._decoder = AvroDecoder(fetch_schema)
        self._known_schema_ids: dict[int, set[int]] = {id(w): set() for w in self.writers}
        self._backlogged: frozenset[Partition] = frozenset()
        self._dead_letters = dead_letters
        self._unflushed_letters = 0
        # Per partition, the next offset handed in and not yet acknowledged: safe once no
        # writer holds a message of the partition (its tail dead-lettered, or only
        # transaction markers stepped over, leaves no row to carry it).
        self._handed: dict[Partition, int] = {}
        self.failed: Counter[tuple[str, str]] = Counter()  # (step, reason)

    @property
    def writer(self) -> ClickHouseWriter:
        """The writer, when there is only one."""
        if len(self.writers) != 1:
            raise AttributeError("this sink feeds several writers; see .writers")
        return self.writers[0]

    @property
    def input_topics(self) -> list[str]:
        return list(self.routes)

    @property
    def pending_messages(self) -> int:
        return sum(w.pending_messages for w in self.writers)

    def prepare(self) -> None:
        """Create or evolve every table."""
        for writer in self.writers:
            writer.prepare()

    def process(self, batch: Batch) -> None:
        for message in batch.messages:
            try:
                decoded = self._decoded(message)
            except RegistryUnavailableError:
                raise  # an outage: nothing of the batch is committed, it is read again
            except Exception as exc:
                if self._dead_letters is None:
                    raise
                # Its offset is committed once the partition's earlier rows are in and the
                # letter is delivered (see ``acknowledged``).
                failure = (Failure(SINK_BUILD, exc.reason_code, exc.detail, type(exc).__name__)
                           if isinstance(exc, UndecodableMessageError)
                           else Failure.of(SINK_BUILD, exc))
                self._dead_letters.emit(message, failure, now_ms=time.time_ns() // 1_000_000)
                self._unflushed_letters += 1
                self.failed[(failure.step, failure.reason)] += 1
                metrics.dlq_events.labels(stage=STEP, step=failure.step, dept="unknown",
                                          reason=failure.reason).inc()
                continue
            self.routes[decoded.topic].add(decoded, waiting_since=batch.polled_at)
        self._handed.update(batch.next_offsets)

    def acknowledged(self, final: bool) -> Acknowledged:
        writers = self.writers if final else [w for w in self.writers if w.due()]
        offsets = self._flush(writers, force=final) if writers else {}
        for tp, offset in list(self._handed.items()):
            if not self.routes[tp[0]].holds(TopicPartition(*tp)):
                offsets[tp] = max(offsets.get(tp, offset), offset)
                del self._handed[tp]
        if offsets and self._unflushed_letters and self._dead_letters is not None:
            # Rare: wait for the letters before an offset past them is committed.
            self._dead_letters.output.flush()
            self._unflushed_letters = 0
        return Acknowledged(offsets, self._backlogged)

    def poll_timeout(self, batch_seconds: float) -> float:
        if self._backlogged:
            waits = [w.retry_in() for w in self.writers if w.backlogged()]
            return min(self.poll_seconds, max(min(waits, default=0.0), 0.01))
        # consume() waits out its timeout when messages trickle in: wake up when the next
        # batch is due, so a batch goes in on time rather than up to a poll late.
        due = [d for w in self.writers if (d := w.due_in()) is not None]
        return min(self.poll_seconds, max(min(due, default=self.poll_seconds), 0.005))

    def assigned(self, partitions: list[Partition], committed: Mapping[Partition, int]) -> None:
        for tp in partitions:
            # No commit yet means reading from the start: recover from there too, so a
            # group that inserted but never committed does not insert twice.
            start = max(committed.get(tp, -1), 0)
            found = self.routes[tp[0]].recover(TopicPartition(*tp), start)
            if found:
                log.info("%s: %d uncommitted inserts to skip again", tp, found)

    def restore(self, budget_s: float) -> frozenset[Partition]:
        return frozenset()  # no state: the writers recover from ClickHouse on assignment

    def revoked(self, partitions: list[Partition], lost: bool) -> None:
        revoked = [TopicPartition(*tp) for tp in partitions]
        for tp in partitions:
            self._handed.pop(tp, None)
        for writer in self.writers:
            writer.forget(revoked)
        self._backlogged -= set(revoked)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()

    def _decoded(self, message: InputMessage) -> SinkMessage:
        topic, partition, offset = message.topic, message.partition, message.offset
        if message.value is None:
            # A tombstone: the key is all it says (which entity is gone).
            key = self._decoder.decode(message.key) if message.key else None
            return SinkMessage(topic, partition, offset, key, None,
                               version_of(list(message.headers)))
        self._follow_schema(self.routes[topic], message.value)
        # A record carries its key in its value; the key is not decoded (a decode each).
        return SinkMessage(topic, partition, offset, None, self._decoder.decode(message.value))

    def _follow_schema(self, writer: ClickHouseWriter, value_bytes: bytes) -> None:
        schema_id = schema_id_of(value_bytes)
        known = self._known_schema_ids[id(writer)]
        if schema_id in known:
            return
        # The decoder's fetch: patient with the registry (an outage waits, never fails the
        # message), and the one fetch its messages are decoded with.
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

    def _flush(self, writers: Iterable[ClickHouseWriter], force: bool) -> dict[Partition, int]:
        """Offsets the writers' inserts made safe. A partition whose batch ClickHouse could
        not take stays backlogged (paused) until its writer has caught up."""
        offsets: dict[Partition, int] = {}
        outage: set[Partition] = set()
        rejected: SinkRejectedError | None = None
        for writer in writers:
            try:
                offsets.update(_plain(writer.flush(force=force)))
            except SinkUnavailableError as exc:
                offsets.update(_plain(exc.committable))
                outage |= {(tp.topic, tp.partition) for tp in exc.partitions}
                log.warning("ClickHouse unavailable for %s: %s", writer.spec.name, exc)
            except SinkRejectedError as exc:
                offsets.update(_plain(exc.committable))
                rejected = exc
                break
        waiting: set[Partition] = set()
        for writer in self.writers:
            waiting |= {(tp.topic, tp.partition) for tp in writer.backlogged()}
        self._backlogged = frozenset((self._backlogged | outage) & waiting)
        if rejected is not None:
            raise rejected
        return offsets

def _plain(offsets: Mapping[TopicPartition, int]) -> dict[Partition, int]:
    return {(tp.topic, tp.partition): offset for tp, offset in offsets.items()}
