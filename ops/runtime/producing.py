"""A step whose results go to Kafka: its batches are acknowledged once the broker has every
output of them, in order, and their deferred changelog records after those.

Batches are pipelined: while the broker acknowledges one, the next is processed, up to
``max_in_flight`` batches; then the step waits for the oldest (backpressure on the fetch).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Protocol

from ops.runtime.kafka_output import DeliveryBatch, KafkaOutput, check_delivered
from ops.runtime.loop import Acknowledged, Batch
from ops.runtime.messages import InputMessage, Partition
from ops.runtime.partitioning import Partitioning


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
