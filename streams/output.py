"""The stages' producer: librdkafka for throughput, with a flush that proves delivery.

faust's own producer costs tens of microseconds per message in Python; librdkafka batches in
C. At-least-once holds because a batch's input events are acknowledged to faust only after
``flush`` has seen every output of the batch acknowledged by the broker.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, Message, Producer


class OutputError(RuntimeError):
    """Outputs were not acknowledged; the batch's input must not be committed."""


def output_config(bootstrap: str, client_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        # Java's partitioner, so an entity key lands on the partition any Kafka client picks.
        "partitioner": "murmur2_random",
        "queue.buffering.max.messages": 500_000,
        # Successes are proven by flush(); only failures need a report (and its Python call).
        "delivery.report.only.error": True,
    }


class KafkaOutput:
    """Produces messages and waits for all of them at flush."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self.errors: list[str] = []

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, headers=headers,
                                      on_delivery=self._on_delivery)
                return
            except BufferError:
                self.producer.poll(0.05)

    def flush(self, timeout_s: float = 60.0) -> None:
        remaining = self.producer.flush(timeout_s)
        if remaining or self.errors:
            errors, self.errors = self.errors, []
            raise OutputError(
                f"{remaining} outputs unacknowledged, {len(errors)} failed: {errors[:3]}"
            )

    def _on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self.errors.append(error.str())
