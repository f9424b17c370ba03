"""What every stage emits beside its output: quality findings (dead letters: see
``topics.dead_letters``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from ops.runtime.kafka_output import Output
from topics.catalog import Topic
from topics.schemas import load_avsc
from topics.serde import AvroEncoder

SchemaIds = Callable[[str, dict[str, Any]], int]
"""Registers (idempotently) a schema under a subject and returns its id."""


class FindingEmitter:
    """Encodes quality finding records onto the quality topic, keyed by event id."""

    def __init__(self, topic: Topic, schema_ids: SchemaIds, output: Output) -> None:
        """``topic``: the quality topic (the catalog's ``quality``)."""
        finding = load_avsc("quality/finding.avsc")
        key = load_avsc("keys/string_key.avsc")
        self.topic = topic.name
        self.output = output
        self._encode = AvroEncoder(finding, schema_ids(topic.value_subject, finding)).encode
        self._encode_key = AvroEncoder(key, schema_ids(topic.key_subject, key)).encode

    def emit(
        self, records: list[dict[str, Any]], event_id: str, counts: Counter[tuple[str, str, str]]
    ) -> int:
        """Produce the records; count them by (dept, dimension, reason)."""
        if not records:
            return 0
        key = self._encode_key(event_id)
        for record in records:
            self.output.produce(self.topic, key, self._encode(record))
            counts[(record["dept"], record["dimension"], record["reason"])] += 1
        return len(records)
