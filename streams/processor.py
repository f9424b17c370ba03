"""Runs the fused raw-side stages over a batch of raw messages: decode once, standardize,
extract facts, encode the std event and one fact per entity, route rejections to the DLQ and
findings to the quality topic. The stages stay separate in code; only this loop fuses them.

Plain Python over plain messages, so tests and benchmarks drive it without a broker; the raw
worker's loop hands it each batch and commits the batch once its outputs are acknowledged.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from streams.emitters import DeadLetterEmitter, FindingEmitter, SchemaIds
from streams.enrich.facts import FactExtractor
from streams.enrich.moves import entities_of
from streams.enrich.plan import moving_fields
from streams.masking.pseudonym import Pseudonymizer
from streams.outcomes import Rejected
from streams.processor_types import InputMessage, Output
from streams.quality import finding_records
from streams.rules.findings import RuleViolation
from streams.standardize import STAGE, StandardizeStage
from topics.annotations import Category
from topics.catalog import Topic, fact_topic, raw_topic, std_topic
from topics.schemas import load_avsc, row_spec, source_names
from topics.serde import AvroDecoder, AvroEncoder, UndecodableMessageError


@dataclass
class BatchStats:
    """Counts of one or more batches, by outcome (for metrics, tests and benchmarks)."""

    consumed: int = 0
    standardized: int = 0
    rejected: int = 0
    filtered: int = 0
    findings: int = 0
    facts: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (dept, outcome)
    dead_letters: Counter[tuple[str, str]] = field(default_factory=Counter)  # (dept, reason)
    quality: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # dept, dim, reason


@dataclass(frozen=True)
class _Route:
    source: str
    dept: str
    stage: StandardizeStage
    std: Topic
    encode: Callable[[dict[str, Any]], bytes]
    moving_fields: frozenset[str]


class RawLayerProcessor:
    """The raw consumer's per-batch work."""

    def __init__(
        self,
        decoder: AvroDecoder,
        schema_ids: SchemaIds,
        pseudonymizer: Pseudonymizer,
        output: Output,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.decoder = decoder
        self.output = output
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.routes: dict[str, _Route] = {}
        for source in source_names():
            std = std_topic(source)
            assert std.value_schema is not None
            schema = std.value_schema()
            encoder = AvroEncoder(schema, schema_ids(std.value_subject, schema))
            self.routes[raw_topic(source).name] = _Route(
                source,
                row_spec(source).dept,
                StandardizeStage(source, pseudonymizer),
                std,
                encoder.encode,
                moving_fields(source),
            )
        self.finding_emitter = FindingEmitter(schema_ids, output)
        self.dead_letters = DeadLetterEmitter(STAGE, output)
        key_schema = load_avsc("keys/string_key.avsc")
        some_fact_key = fact_topic(Category.INDIVIDUAL).key_subject
        self._encode_string_key = AvroEncoder(
            key_schema, schema_ids(some_fact_key, key_schema)
        ).encode
        self.facts = FactExtractor()
        fact_schema = load_avsc("fact/fact.avsc")
        self._fact_topics = {str(c): fact_topic(c) for c in Category}
        some_fact_topic = self._fact_topics[str(Category.INDIVIDUAL)]
        self._encode_fact = AvroEncoder(
            fact_schema, schema_ids(some_fact_topic.value_subject, fact_schema)
        ).encode
        for topic in self._fact_topics.values():
            # Register every fact topic's subjects (same schemas, so the same ids).
            schema_ids(topic.value_subject, fact_schema)
            schema_ids(topic.key_subject, key_schema)

    @property
    def input_topics(self) -> list[str]:
        return list(self.routes)

    def process(self, messages: Sequence[InputMessage]) -> BatchStats:
        stats = BatchStats(consumed=len(messages))
        today = date.today()
        now_ms = self.clock_ms()
        for message in messages:
            route = self.routes[message.topic]
            stats.outcomes[(route.dept, "in")] += 1
            try:
                envelope = self.decoder.decode(message.value) if message.value is not None else None
            except UndecodableMessageError as exc:
                self._reject(
                    message,
                    route,
                    exc.reason_code,
                    exc.detail,
                    type(exc).__name__,
                    "",
                    now_ms,
                    stats,
                )
                continue
            if envelope is not None and not envelope.get("event_id"):
                # Plain Debezium events carry no id: their position is their identity.
                envelope["event_id"] = f"{message.topic}:{message.partition}:{message.offset}"
            try:
                result = route.stage(envelope, today)
            except Exception as exc:
                self._reject(
                    message,
                    route,
                    "stage.exception",
                    str(exc)[:300],
                    type(exc).__name__,
                    _event_id(envelope),
                    now_ms,
                    stats,
                )
                continue
            if result is None:
                stats.filtered += 1
                stats.outcomes[(route.dept, "filtered")] += 1
            elif isinstance(result, Rejected):
                assert envelope is not None
                self._reject(
                    message,
                    route,
                    result.reason_code,
                    result.detail,
                    result.exception_class,
                    envelope["event_id"],
                    now_ms,
                    stats,
                )
                self._findings(result.findings, result.fatal, envelope, route, now_ms, stats)
            else:
                assert envelope is not None  # a standardized event had one
                self.output.produce(route.std.name, message.key, route.encode(result.envelope))
                stats.standardized += 1
                stats.outcomes[(route.dept, "out")] += 1
                notes: list[RuleViolation] = []
                for fact in self._facts_of(route, envelope, result.envelope, today, notes):
                    # Keyed by entity key: the repartition point of the theme layer.
                    self.output.produce(
                        self._fact_topics[fact["category"]].name,
                        self._encode_string_key(fact["entity_key"]),
                        self._encode_fact(fact),
                    )
                    stats.facts += 1
                if result.findings or notes:
                    self._findings(
                        [*result.findings, *notes], None, result.envelope, route, now_ms, stats
                    )
        return stats

    def _facts_of(
        self,
        route: _Route,
        raw: dict[str, Any],
        std: dict[str, Any],
        today: date,
        notes: list[RuleViolation],
    ) -> list[dict[str, Any]]:
        """The std event's facts, plus retracts for entities an update moved away from.

        The raw update's before image says what the record stated until now; it is only
        standardized when a field that picks the record's entities changed (rare), so the
        common update costs one comparison per such field.
        """
        before, after = raw.get("before"), raw.get("after")
        if (
            raw.get("op") != "u"
            or before is None
            or after is None
            or all(before.get(f) == after.get(f) for f in route.moving_fields)
        ):
            return self.facts.extract(route.source, std, notes)
        previous_row = route.stage.std_row(before, today)
        previous = None
        if previous_row is not None:
            previous = entities_of(
                self.facts.extract(
                    route.source, {**std, "op": "c", "before": None, "after": previous_row}
                )
            )
        return self.facts.extract_tracked(route.source, std, previous, notes)[0]

    def _reject(
        self,
        message: InputMessage,
        route: _Route,
        reason: str,
        detail: str,
        exception_class: str,
        event_id: str,
        now_ms: int,
        stats: BatchStats,
    ) -> None:
        self.dead_letters.emit(
            message,
            reason=reason,
            detail=detail,
            exception_class=exception_class,
            now_ms=now_ms,
            dept=route.dept,
            event_id=event_id,
        )
        stats.rejected += 1
        stats.rejected_by_reason[reason] += 1
        stats.outcomes[(route.dept, "rejected")] += 1
        stats.dead_letters[(route.dept, reason)] += 1

    def _findings(
        self,
        findings: Sequence[RuleViolation],
        fatal: RuleViolation | None,
        envelope: dict[str, Any],
        route: _Route,
        now_ms: int,
        stats: BatchStats,
    ) -> None:
        event_id = envelope["event_id"]
        records = finding_records(
            findings,
            event_id=event_id,
            stage=STAGE,
            source=route.source,
            dept=route.dept,
            source_ts_ms=int(envelope["source"].get("ts_ms") or 0),
            detected_ms=now_ms,
            rejected_by=fatal,
        )
        stats.findings += self.finding_emitter.emit(records, event_id, stats.quality)


def _event_id(envelope: dict[str, Any] | None) -> str:
    return str(envelope.get("event_id", "")) if envelope else ""
