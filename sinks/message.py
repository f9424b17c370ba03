"""One decoded Kafka message as the sink sees it: where it came from, its key and value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple


class TopicPartition(NamedTuple):
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class SinkMessage:
    """``value`` None is a tombstone: the entity named by ``key`` was deleted. ``key`` is the
    decoded Avro key: a record (mapping) or a plain value such as the catalog's string keys.
    The consumer decodes keys of tombstones only: a record carries its key in its value.
    ``version``: the version a tombstone's header gives its delete (None: it has none)."""

    topic: str
    partition: int
    offset: int
    key: Any
    value: Mapping[str, Any] | None
    version: int | None = None

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)
