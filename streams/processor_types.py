"""The messages stages consume and the output they produce to, as plain Python types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class InputMessage:
    """One consumed message, as any Kafka client gives it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @property
    def position(self) -> str:
        """``topic:partition:offset``: where the message sits (lineage, ids of events that
        carry none)."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    @classmethod
    def from_kafka(cls, message: Any) -> InputMessage:
        """From a consumed confluent-kafka message (not an error event)."""
        return cls(
            message.topic(), message.partition(), message.offset(), message.key(), message.value()
        )


class Output(Protocol):
    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
        partition: int = -1,
    ) -> None: ...
