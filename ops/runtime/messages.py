"""A consumed message as plain Python, the unit every step processes."""

from __future__ import annotations

from typing import Any, NamedTuple

Partition = tuple[str, int]
"""(topic, partition)"""


class InputMessage(NamedTuple):
    """One consumed message, as any Kafka client gives it (a named tuple: the runtime makes
    one per consumed message, at a third of a frozen dataclass's cost)."""

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
