"""The workers' consumer loop: librdkafka batches in, a stage's batch work, commit after delivery.

faust's stream machinery cost more than the stages' own work (measured: ~60-90 us per event
in the raw layer; ~250 us per fact in the theme layer, where the merge itself costs ~50 us),
so both layers run on this loop instead. Offsets of a batch are committed only after every
output it produced, and every output of the batches before it, has been acknowledged by the
broker (at-least-once). Batches are pipelined: while the broker acknowledges one, the next is
processed, up to ``max_in_flight`` batches; on a partition revocation and at stop everything
is flushed and committed first. Delivered offsets are committed at most every
``commit_interval_s``: a commit per 50 ms batch kept the broker's group coordinator and its
offsets topic busy for nothing, as anything redelivered after a crash is applied
idempotently anyway. A batch's deferred state changelog records are produced once its
outputs are acknowledged, and its offsets committed once those are too (``output``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from streams.instrumentation import observe_batch, observe_lag
from streams.output import DeliveryBatch, KafkaOutput, check_delivered
from streams.processor_types import InputMessage

log = logging.getLogger("govbus.streams")


class StageStats(Protocol):
    outcomes: Counter[tuple[str, str]]  # (dept, outcome)
    quality: Counter[tuple[str, str, str]]  # (dept, dimension, reason)
    dead_letters: Counter[tuple[str, str]]  # (dept, reason)
    ignored: Counter[tuple[str, str]]  # (dept, reason)


class BatchStage(Protocol):
    """What a loop runs: a stage's batch work and its view of partition ownership."""

    name: str

    @property
    def input_topics(self) -> list[str]: ...

    def process(self, batch: list[InputMessage]) -> Any: ...

    def assigned(self, partitions: list[TopicPartition]) -> None: ...

    def revoked(self, partitions: list[TopicPartition], lost: bool = False) -> None:
        """Partitions go; ``lost``: without a drain, so outputs not yet produced (deferred
        changelog records) were dropped."""
        ...


def consumer_config(connection: Mapping[str, Any], group_id: str) -> dict[str, Any]:
    return {
        **connection,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # Range gives a member the same partition numbers of every subscribed topic (with
        # equal partition counts): the co-partitioning the theme layer's state relies on.
        "partition.assignment.strategy": "range",
        "fetch.max.bytes": 16 * 1024 * 1024,
        "queued.max.messages.kbytes": 65536,
        "fetch.min.bytes": 256 * 1024,
        "fetch.wait.max.ms": 20,
    }


class BatchConsumerLoop:
    """Consumes a stage's input topics with one consumer group and runs the stage per batch."""

    def __init__(self, consumer: Consumer, stage: BatchStage, output: KafkaOutput,
                 batch_size: int, batch_seconds: float, group_id: str,
                 max_in_flight: int = 4, commit_interval_s: float = 0.25) -> None:
        self.consumer = consumer
        self.stage = stage
        self.output = output
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.group_id = group_id
        self.max_in_flight = max_in_flight
        self.commit_interval_s = commit_interval_s
        self.stop_requested = threading.Event()
        self.state = "starting"
        self._in_flight: deque[DeliveryBatch] = deque()
        # Offsets of delivered batches not committed yet, and when they last were.
        self._delivered: dict[tuple[str, int], TopicPartition] = {}
        self._committed_at = time.monotonic()

    def run(self) -> None:
        """Until stop(): consume, process, commit what the broker has acknowledged. Raises
        ``OutputError`` on a failed output without committing its batch or any later one, so
        a restart reprocesses them rather than lose them."""
        self.consumer.subscribe(self.stage.input_topics, on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_lost)
        try:
            while not self.stop_requested.is_set():
                messages = self.consumer.consume(self.batch_size, timeout=self.batch_seconds)
                if messages:
                    self._handle(messages)
                self._commit_delivered()
            self._drain()
        finally:
            self.consumer.close()

    def stop(self) -> None:
        self.stop_requested.set()

    def readiness(self) -> tuple[bool, str]:
        return self.state == "processing", f"{self.stage.name}: {self.state}"

    def _handle(self, messages: list[Any]) -> None:
        batch = []
        next_offsets: dict[tuple[str, int], int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error: %s", error.str())
                continue
            batch.append(InputMessage.from_kafka(message))
            next_offsets[(message.topic(), message.partition())] = message.offset() + 1
        if not batch:
            return
        started = time.perf_counter()
        self._in_flight.append(self.output.begin(
            [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]))
        stats = self.stage.process(batch)
        self.output.begin()  # seal this batch: later outputs are not its own
        observe_batch(self.stage.name, len(batch), time.perf_counter() - started,
                      stats.outcomes, stats.quality, stats.dead_letters, stats.ignored)
        observe_lag(self.group_id, self.consumer)

    def _commit_delivered(self) -> None:
        """Commit the oldest batches the broker has acknowledged; wait while too many are out."""
        self.output.poll(0)
        while self._in_flight:
            head = self._in_flight[0]
            check_delivered(head)
            if not head.delivered:
                if len(self._in_flight) <= self.max_in_flight:
                    break
                self.output.poll(0.01)
                continue
            self._in_flight.popleft()
            if head.deferred:  # its state changelog records, now that its outputs are in
                self._in_flight.appendleft(self.output.release(head))
                continue
            self._delivered.update({(tp.topic, tp.partition): tp for tp in head.offsets})
        if self._delivered and time.monotonic() - self._committed_at >= self.commit_interval_s:
            self._commit_held(asynchronous=True)

    def _drain(self) -> None:
        """Wait for every output, then commit every batch synchronously."""
        self.output.flush()
        while self._in_flight:
            batch = self._in_flight.popleft()
            check_delivered(batch)
            if batch.deferred:
                self._in_flight.appendleft(self.output.release(batch))
                self.output.flush()
                continue
            self._delivered.update({(tp.topic, tp.partition): tp for tp in batch.offsets})
        self._commit_held(asynchronous=False)

    def _commit_held(self, asynchronous: bool) -> None:
        if self._delivered:
            self._commit(list(self._delivered.values()), asynchronous)
            self._delivered = {}
        self._committed_at = time.monotonic()

    def _commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        try:
            if asynchronous:
                self.consumer.commit(offsets=offsets, asynchronous=True)
            else:
                self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Not fatal: the outputs are delivered; the batch may be seen again (at-least-once).
            log.warning("offset commit failed: %s", exc)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.state = "restoring"
        self.stage.assigned(partitions)
        self.state = "processing"

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Everything consumed so far is finished before the partitions go to another member.
        self._drain()
        self.stage.revoked(partitions)
        self.state = "rebalancing"

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Another member may own them already: no commit, just forget their state.
        self.output.flush()
        self._in_flight.clear()
        self._delivered = {}
        self.stage.revoked(partitions, lost=True)
        self.state = "rebalancing"
