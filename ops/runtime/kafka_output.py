"""The steps' producer: librdkafka for throughput, with delivery tracked per batch.

Each consumed batch gets a ``DeliveryBatch``: every output produced while it is current
counts against it, and its broker acknowledgement comes back through one bound callback. A
consumer commits a batch's input offsets only once all of its outputs (and those of every
earlier batch) are acknowledged, so at-least-once holds without stopping to flush after
every batch: the next batch is processed while the broker acknowledges the last.

A stage's state changelog must not get ahead of the outputs it was computed with: after a
crash the restored state would judge the batch's replayed events as already seen, and what
the lost outputs said would be lost. So changelog records are *deferred*: kept with their
batch, the last value per key, and produced (``release``) only once the batch's outputs are
acknowledged; the batch's offsets are committed after those in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from confluent_kafka import KafkaError, Message, Producer


class OutputError(RuntimeError):
    """Outputs were not acknowledged; the batch's input must not be committed."""


class Output(Protocol):
    """Where a step's results go."""

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
        partition: int = -1,
    ) -> None: ...


class DeliveryBatch:
    """The outputs of one input batch, until the broker has acknowledged all of them."""

    __slots__ = ("deferred", "errors", "offsets", "outstanding", "sealed")

    def __init__(self, offsets: Mapping[tuple[str, int], int] | None = None) -> None:
        self.offsets = offsets or {}  # what to commit once delivered (the consumer's business)
        self.outstanding = 0
        self.sealed = False  # no more outputs will be added
        self.errors: list[str] = []
        # (topic, partition, key) -> value: produced once the outputs above are delivered
        self.deferred: dict[tuple[str, int, bytes | None], bytes | None] = {}

    @property
    def delivered(self) -> bool:
        return self.sealed and self.outstanding == 0 and not self.errors

    def on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        self.outstanding -= 1
        if error is not None:
            self.errors.append(error.str())


class KafkaOutput:
    """Produces messages, each counted against the current ``DeliveryBatch``."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self.current = DeliveryBatch()
        self._on_delivery: Callable[[KafkaError | None, Message], None] = (
            self.current.on_delivery
        )

    def begin(self, offsets: Mapping[tuple[str, int], int] | None = None) -> DeliveryBatch:
        """Start counting outputs against a new batch; returns it."""
        self.current.sealed = True
        self.current = DeliveryBatch(offsets)
        self._on_delivery = self.current.on_delivery
        return self.current

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
        partition: int = -1,
    ) -> None:
        self._produce(self.current, topic, key, value, headers, partition)

    def defer(self, topic: str, key: bytes | None, value: bytes | None,
              headers: Any = None, partition: int = -1) -> None:
        """Produce once the current batch's outputs are delivered (see ``release``); a later
        value of the same key in the same batch replaces an earlier one."""
        self.current.deferred[(topic, partition, key)] = value

    def release(self, batch: DeliveryBatch) -> DeliveryBatch:
        """Produce a delivered batch's deferred records; returns the batch that tracks their
        delivery (with the first one's offsets, to commit once it is delivered)."""
        follow = DeliveryBatch(batch.offsets)
        follow.sealed = True
        for (topic, partition, key), value in batch.deferred.items():
            self._produce(follow, topic, key, value, None, partition)
        batch.deferred = {}
        return follow

    def _produce(self, batch: DeliveryBatch, topic: str, key: bytes | None,
                 value: bytes | None, headers: Any, partition: int) -> None:
        on_delivery = self._on_delivery if batch is self.current else batch.on_delivery
        produce = self.producer.produce
        while True:
            try:
                # Most outputs have neither headers nor a chosen partition: passing the
                # defaults anyway cost the client a third of its time per message.
                if headers is None and partition == -1:
                    produce(topic, value, key, on_delivery=on_delivery)
                else:
                    produce(topic, value, key, partition=partition, on_delivery=on_delivery,
                            headers=headers)
                batch.outstanding += 1
                return
            except BufferError:
                self.producer.poll(0.05)

    def poll(self, timeout_s: float = 0.0) -> None:
        """Serve delivery reports that have arrived (waiting up to ``timeout_s`` for one)."""
        self.producer.poll(timeout_s)

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait for every output so far; raise unless all were acknowledged."""
        self.current.sealed = True
        remaining = self.producer.flush(timeout_s)
        errors = self.current.errors
        if remaining or errors:
            raise OutputError(
                f"{remaining} outputs unacknowledged, {len(errors)} failed: {errors[:3]}"
            )


class Deferred:
    """An output whose records wait for the current batch's outputs (a state changelog's)."""

    def __init__(self, output: KafkaOutput) -> None:
        self.produce = output.defer


def check_delivered(batch: DeliveryBatch) -> None:
    """Raise if any of the batch's outputs failed."""
    if batch.errors:
        raise OutputError(f"{len(batch.errors)} outputs failed: {batch.errors[:3]}")
