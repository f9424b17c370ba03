"""A batch whose messages are fixed: the unit of one insert and of its deduplication token.

Everything that goes into the rows is decided when the batch is sealed (or, for tombstone
versions, on the first attempt) and kept, so every retry sends the very same rows under the
very same token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from sinks.clickhouse.ddl import TableSpec
from sinks.message import SinkMessage, TopicPartition


def dedup_token(topic: str, partition: int, first_offset: int, last_offset: int) -> str:
    """The insert's identity: the same message range always gets the same token."""
    return f"{topic}/{partition}/{first_offset}-{last_offset}"


class OffsetRange(NamedTuple):
    first: int
    last: int


def token_range(token: str) -> OffsetRange | None:
    """The offsets a token names (None for text that is no token of ours)."""
    _, _, span = token.rpartition("/")
    first, sep, last = span.partition("-")
    if not sep or not first.isdigit() or not last.isdigit():
        return None
    return OffsetRange(int(first), int(last))


EntityKey = tuple[Any, ...]


@dataclass(eq=False)
class SealedBatch:
    """Messages ``first_offset..last_offset`` of one partition, awaiting their insert."""

    topic_partition: TopicPartition
    messages: tuple[SinkMessage, ...]
    ingested_ms: int
    spec: TableSpec
    # Versions given to key-only tombstones, resolved once against the table.
    tombstone_versions: dict[EntityKey, int] | None = None
    attempts: int = 0
    # A range an earlier process inserted (found by ``recover``): its token is reused even
    # when messages of it have since been compacted away.
    recorded: OffsetRange | None = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("a sealed batch holds at least one message")

    @property
    def first_offset(self) -> int:
        return self.messages[0].offset

    @property
    def last_offset(self) -> int:
        return self.messages[-1].offset

    @property
    def commit_offset(self) -> int:
        """Kafka's committed offset is the next one to read."""
        return self.last_offset + 1

    @property
    def token(self) -> str:
        tp = self.topic_partition
        if self.recorded is not None:
            return dedup_token(tp.topic, tp.partition, *self.recorded)
        return dedup_token(tp.topic, tp.partition, self.first_offset, self.last_offset)

    @property
    def tombstones(self) -> tuple[SinkMessage, ...]:
        return tuple(m for m in self.messages if m.value is None and m.key is not None)
