"""A step whose results go to Kafka: its batches are acknowledged once the broker has every
output of them, in order, and their deferred changelog records after those.

Batches are pipelined: while the broker acknowledges one, the next is processed, up to
``max_in_flight`` batches; then the step waits for the oldest (backpressure on the fetch).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from confluent_kafka import KafkaException, TopicPartition

from ops.runtime.kafka_output import DeliveryBatch, KafkaOutput, check_delivered
from ops.runtime.loop import Acknowledged, Batch, RewindError
from ops.runtime.messages import InputMessage, Partition
from ops.runtime.partitioning import Partitioning

log = logging.getLogger("govbus.runtime")

TRANSACTION_TIMEOUT_S = 60.0  # how long one transactional call may block
# A transaction left open by a worker that died holds back every read_committed reader of its
# partitions until the coordinator aborts it, so it is short: a transaction spans 0.1 s of
# batches. A commit still unanswered after this long is given up: the coordinator aborts the
# transaction anyway.
TRANSACTION_TIMEOUT_MS = 10_000
ABORT_TIMEOUT_S = 10.0  # longer, and the producer is replaced instead


class ProducingStage(Protocol):
    """A stage's batch work, producing through the step's ``KafkaOutput``."""

    name: str

    @property
    def input_topics(self) -> list[str]: ...

    def process(self, messages: list[InputMessage]) -> None: ...

    def assigned(self, partitions: list[Partition]) -> None: ...

    def revoked(self, partitions: list[Partition], lost: bool) -> None:
        """Partitions go; ``lost``: without a drain, so outputs not yet produced (deferred
        changelog records) were dropped."""
        ...

    def restore(self, budget_s: float) -> frozenset[Partition]:
        """Restore state for about ``budget_s``; the input partitions still restoring."""
        ...


class ProducingStep:
    """Runs a producing stage in the consumer runtime."""

    reads_committed_offsets = False

    def __init__(self, stage: ProducingStage, output: KafkaOutput,
                 max_in_flight: int = 4) -> None:
        self.stage = stage
        self.output = output
        self.max_in_flight = max_in_flight
        self.name = stage.name
        self.partitioning: Partitioning | None = getattr(stage, "partitioning", None)
        self._in_flight: deque[DeliveryBatch] = deque()

    @property
    def input_topics(self) -> list[str]:
        return self.stage.input_topics

    def process(self, batch: Batch) -> None:
        self._in_flight.append(self.output.begin(batch.next_offsets))
        if batch.messages:  # else only positions past transaction markers, to commit
            self.stage.process(batch.messages)
        self.output.begin()  # seal this batch: later outputs are not its own

    def poll_timeout(self, batch_seconds: float) -> float:
        return batch_seconds

    def acknowledged(self, final: bool) -> Acknowledged:
        """The offsets of the oldest batches the broker has acknowledged (with ``final``:
        of all, after waiting for them). Raises ``OutputError`` on a failed output: neither
        its batch nor any later one is acknowledged, so a restart reprocesses them."""
        if final:
            self.output.flush()
        else:
            self.output.poll(0)
        offsets: dict[Partition, int] = {}
        while self._in_flight:
            head = self._in_flight[0]
            check_delivered(head)
            if not head.delivered:
                if final:
                    self.output.flush()
                elif len(self._in_flight) <= self.max_in_flight:
                    break
                else:
                    self.output.poll(0.01)
                continue
            self._in_flight.popleft()
            if head.deferred:  # its state changelog records, now that its outputs are in
                self._in_flight.appendleft(self.output.release(head))
                continue
            offsets.update(head.offsets)
        return Acknowledged(offsets)

    def assigned(self, partitions: list[Partition], committed: Mapping[Partition, int]) -> None:
        self.stage.assigned(partitions)

    def restore(self, budget_s: float) -> frozenset[Partition]:
        return self.stage.restore(budget_s)

    def revoked(self, partitions: list[Partition], lost: bool) -> None:
        if lost:
            # Nothing of them is committed: what was produced is flushed, the rest dropped.
            self.output.flush()
            self._in_flight.clear()
        self.stage.revoked(partitions, lost)


class TransactionalStep(ProducingStep):
    """Exactly once: the outputs of the batches of up to ``commit_interval_s``, their state
    changelog records and their input offsets are one Kafka transaction, committed or
    aborted together. A worker killed mid-transaction leaves its outputs aborted (invisible
    to every read_committed consumer) and its offsets uncommitted, so the next owner
    processes the batch again without a second copy of anything downstream. Fencing is the
    consumer group's (KIP-447): a member that lost its partitions cannot commit for them.

    The changelog needs no deferral here (see ``kafka_output``): it commits with the outputs
    it was computed with, or not at all."""

    def __init__(self, stage: ProducingStage, output: KafkaOutput,
                 commit_interval_s: float = 0.1,
                 clock: Callable[[], float] = time.monotonic,
                 new_producer: Callable[[], Any] | None = None) -> None:
        """``new_producer``: a producer with the same transactional id, for when the current
        one cannot abort (see ``_abort``)."""
        super().__init__(stage, output)
        self._new_producer = new_producer
        self.commit_interval_s = commit_interval_s
        self._clock = clock
        self._consumer: Any = None
        self._open_since: float | None = None
        self._offsets: dict[Partition, int] = {}

    def attach(self, consumer: Any) -> None:
        """The runtime's consumer, whose group the transactions commit offsets for (a new one
        when the runtime replaced a fenced consumer: the producer is initialized once)."""
        if self._consumer is None:
            self.output.producer.init_transactions(TRANSACTION_TIMEOUT_S)
        self._consumer = consumer

    def process(self, batch: Batch) -> None:
        if self._open_since is None:
            self.output.producer.begin_transaction()
            self._open_since = self._clock()
        try:
            if batch.messages:
                self.stage.process(batch.messages)
            if self.output.current.deferred:
                self.output.release(self.output.current)
        except KafkaException as exc:
            # The transaction failed under the batch (a broker lost the producer's sequence
            # state): the producer refuses more until it is aborted.
            self._abort()
            raise RewindError(f"transaction aborted: {exc.args[0].str()}") from exc
        self._offsets.update(batch.next_offsets)

    def acknowledged(self, final: bool) -> Acknowledged:
        self.output.poll(0)
        if self._open_since is not None and (
                final or self._clock() - self._open_since >= self.commit_interval_s):
            self._commit()
        return Acknowledged()  # the offsets went with the transaction

    def revoked(self, partitions: list[Partition], lost: bool) -> None:
        if lost and self._open_since is not None:
            self._abort()
        self.stage.revoked(partitions, lost)

    def _commit(self) -> None:
        producer = self.output.producer
        if self._offsets:
            offsets = [TopicPartition(t, p, o) for (t, p), o in self._offsets.items()]
            self._patiently(lambda: producer.send_offsets_to_transaction(
                offsets, self._consumer.consumer_group_metadata(), TRANSACTION_TIMEOUT_S))
        self._patiently(lambda: producer.commit_transaction(TRANSACTION_TIMEOUT_S))
        self.output.begin()  # a fresh delivery count for the next transaction
        self._open_since, self._offsets = None, {}

    def _patiently(self, call: Callable[[], object]) -> None:
        """A broker restarting makes the call time out: it is tried again (the transaction
        stays open on the coordinator meanwhile) until the transaction's own timeout, after
        which the coordinator has aborted it. That, or an abortable error, aborts it: nothing
        of it is visible or committed, and the runtime rewinds to the last committed offsets."""
        started = self._clock()
        while True:
            try:
                call()
                return
            except KafkaException as exc:
                error = exc.args[0]
                overdue = self._clock() - started >= TRANSACTION_TIMEOUT_MS / 1000
                if error.txn_requires_abort() or (error.retriable() and overdue):
                    self._abort()
                    raise RewindError(f"transaction aborted: {error.str()}") from exc
                if not error.retriable():
                    raise
                log.warning("%s: transaction waits for the broker: %s", self.name, error.str())

    def _abort(self) -> None:
        """Abort the open transaction. A producer that cannot (its coordinator away or its
        epoch to be bumped after a broker lost its sequence state) is replaced by a new one
        with the same transactional id, whose initialization fences the old and aborts what
        it left open, as Kafka Streams replaces a fenced producer."""
        try:
            self.output.producer.abort_transaction(ABORT_TIMEOUT_S)
        except KafkaException as exc:
            if self._new_producer is None:
                raise
            log.warning("%s: the abort failed (%s); a new producer takes over", self.name,
                        exc.args[0].str())
            self._replace_producer()
        self._open_since, self._offsets = None, {}
        self.output.begin()

    def _replace_producer(self) -> None:
        assert self._new_producer is not None
        old = self.output.producer
        try:  # its outputs are aborted anyway; a producer in a fatal state refuses this too
            old.purge()
            old.flush(0)
        except KafkaException as exc:
            log.debug("the old producer: %s", exc)
        producer = self._new_producer()
        while True:
            try:
                producer.init_transactions(TRANSACTION_TIMEOUT_S)
                break
            except KafkaException as exc:
                if not exc.args[0].retriable():
                    raise
                log.warning("%s: the new producer waits for the broker: %s", self.name,
                            exc.args[0].str())
        self.output.producer = producer
