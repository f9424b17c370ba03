"""A consumed message as plain Python, the unit every step processes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Partition = tuple[str, int]
"""(topic, partition)"""


@dataclass(frozen=True, slots=True)
class InputMessage:
    """One consumed message, as any Kafka client gives it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()

    @property
    def position(self) -> str:
        """``topic:partition:offset``: where the message sits (lineage, ids of events that
        carry none)."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    @classmethod
    def from_kafka(cls, message: Any) -> InputMessage:
        """From a consumed confluent-kafka message (not an error event)."""
        headers = message.headers()
        return cls(message.topic(), message.partition(), message.offset(), message.key(),
                   message.value(), tuple(headers) if headers else ())
