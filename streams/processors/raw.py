"""Runs the fused raw-side stages over a batch of raw messages: decode once, standardize,
judge the change against its source row's state and extract facts, encode the std event and
one fact per entity, route rejections to the DLQ and findings to the quality topic. The
stages stay separate in code; only this loop fuses them.

The source rows are tables (``row_store``): a change's facts, and the retracts of what its row
named before, come from the row's state, whatever the event's op and before image; an event
older than its row is not applied but reported (``timeliness.stale``); a closed snapshot run
deletes the rows it did not read, on every partition of the table.

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

from ops.runtime.kafka_output import Output
from ops.runtime.messages import InputMessage
from streams.processors.cdc_input import DebeziumInput, RawInput
from streams.processors.emitters import FindingEmitter, SchemaIds
from streams.processors.stats import StageCounts
from streams.runtime.row_store import CLOSING_KEY, RowTables, decode_entry, encode_entry
from streams.runtime.state_store import ChangelogStore, MemoryBackend
from streams.stages.debezium import Ignored
from streams.stages.enrich.facts import Fact, FactExtractor
from streams.stages.enrich.row_table import RowOutcome, RowTable
from streams.stages.enrich.snapshots import Closing
from streams.stages.masking.pseudonym import Pseudonymizer
from streams.stages.outcomes import Rejected, Standardized
from streams.stages.quality import finding_records
from streams.stages.rules.findings import RuleViolation
from streams.stages.standardize import STAGE, StandardizeStage
from topics.annotations import Category
from topics.catalog import RAW_ROWS, Catalog, Topic
from topics.dead_letters import (
    RAW_DECODE,
    RAW_ENCODE,
    RAW_FACTS,
    RAW_RULES,
    DeadLetterEmitter,
    Failure,
)
from topics.patience import RegistryUnavailableError
from topics.schemas import change_event_schema, load_avsc, row_spec, source_names
from topics.serde import (
    AvroDecoder,
    AvroEncoder,
    UndecodableMessageError,
)

EncodedFact = tuple[str, bytes, bytes]  # (fact topic, key, value)


@dataclass
class BatchStats(StageCounts):
    """The raw layer's counts."""

    consumed: int = 0
    standardized: int = 0
    filtered: int = 0
    findings: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Route:
    source: str
    dept: str
    stage: StandardizeStage
    std: Topic
    encode: Callable[[dict[str, Any]], bytes]
    partitions: int  # of the raw topic: where a snapshot closing is carried


class RawLayerProcessor:
    """The raw consumer's per-batch work."""

    def __init__(
        self,
        catalog: Catalog,
        decoder: AvroDecoder,
        schema_ids: SchemaIds,
        pseudonymizer: Pseudonymizer,
        output: Output,
        clock_ms: Callable[[], int] | None = None,
        rows: RowTables | None = None,
    ) -> None:
        """``rows``: the row tables of the partitions this member owns; without them, the
        rows are kept in memory only (unit tests, the benchmark's bare loop)."""
        self.catalog = catalog
        # Every version of a source's change event decodes into the declared one: a column
        # a department's newer version added is left out until declared (it may hold
        # personal data nobody classified), one an older version lacks takes its default.
        self.decoder = decoder.resolving_into(
            change_event_schema(source) for source in source_names())
        self.debezium = DebeziumInput(catalog, self.decoder, schema_ids)
        self.output = output
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.routes: dict[str, _Route] = {}
        self.facts = FactExtractor()
        self.rows = rows or RowTables(
            ChangelogStore(catalog.state(RAW_ROWS).name, _Discard(), MemoryBackend(), None,
                           encode_entry, decode_entry),
            self.facts)
        for source in source_names():
            raw = catalog.raw(source)
            std = catalog.std(source)
            assert std.value_schema is not None
            schema = std.value_schema()
            encoder = AvroEncoder(schema, schema_ids(std.value_subject, schema))
            self.routes[raw.name] = _Route(
                source,
                row_spec(source).dept,
                StandardizeStage(source, pseudonymizer),
                std,
                encoder.encode,
                raw.partitions,
            )
        self.finding_emitter = FindingEmitter(catalog.quality, schema_ids, output)
        self.dead_letters = DeadLetterEmitter(catalog, STAGE, output)
        key_schema = load_avsc("keys/string_key.avsc")
        some_fact_key = catalog.fact(Category.INDIVIDUAL).key_subject
        self._encode_string_key = AvroEncoder(
            key_schema, schema_ids(some_fact_key, key_schema)
        ).encode
        fact_schema = load_avsc("fact/fact.avsc")
        self._fact_topics = {str(c): catalog.fact(c) for c in Category}
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
        """Every message ends in std (with its facts), the DLQ (with the step that failed and
        why), or is counted as filtered or ignored; none stops the batch. Only an
        infrastructure fault (the registry away past its patience) raises: nothing of the
        batch is committed, and it is read again."""
        stats = BatchStats(consumed=len(messages))
        today = date.today()
        now_ms = self.clock_ms()
        for message in messages:
            route = self.routes[message.topic]
            if message.key == CLOSING_KEY:
                self._close(message, route, now_ms, stats)
                continue
            stats.outcomes[(route.dept, "in")] += 1
            step, envelope = RAW_DECODE, None
            try:
                envelope = self.decoder.decode(message.value) if message.value is not None else None
                raw = self.debezium.read(message, envelope)
                if not isinstance(raw, RawInput):
                    self._skip(message, route, raw, now_ms, stats)
                    continue
                envelope = raw.envelope
                if envelope is not None and not envelope.get("event_id"):
                    # Plain Debezium events carry no id: their position is their identity.
                    envelope["event_id"] = message.position
                step = RAW_RULES
                result = route.stage(envelope, today)
                if result is None:
                    stats.filtered += 1
                    stats.outcomes[(route.dept, "filtered")] += 1
                elif isinstance(result, Rejected):
                    assert envelope is not None
                    self._reject(message, route, Failure(
                        RAW_RULES, result.reason_code, result.detail, result.exception_class),
                        envelope["event_id"], now_ms, stats)
                    self._findings(result.findings, result.fatal, envelope, route, now_ms,
                                   stats)
                else:
                    step = RAW_ENCODE
                    value = route.encode(result.envelope)
                    step = RAW_FACTS
                    self._standardized(message, route, raw.key, value, result, now_ms, stats)
            except RegistryUnavailableError:
                raise
            except UndecodableMessageError as exc:
                self._reject(message, route, Failure(step, exc.reason_code, exc.detail,
                                                     type(exc).__name__),
                             _event_id(envelope), now_ms, stats)
            except Exception as exc:
                # A poison pill: set aside with the step it broke and why; the batch goes on.
                self._reject(message, route, Failure.of(step, exc), _event_id(envelope),
                             now_ms, stats)
        return stats

    def _standardized(self, message: InputMessage, route: _Route, key: bytes | None,
                      value: bytes, result: Standardized, now_ms: int,
                      stats: BatchStats) -> None:
        """The std event and what its row says now. Its facts are made (and encoded) before
        anything of the event is produced, so a failure sends it to the DLQ alone."""
        notes: list[RuleViolation] = []
        table = self.rows.table(route.source, message.partition)
        outcome = table.apply(result.envelope, notes)
        facts = self._encoded_facts(outcome.facts, message)
        self.output.produce(route.std.name, key, value)
        stats.standardized += 1
        stats.outcomes[(route.dept, "out")] += 1
        self._row_changed(message, route, table, outcome, facts, now_ms, stats)
        if result.findings or notes:
            self._findings([*result.findings, *notes], None, result.envelope, route, now_ms,
                           stats)

    def _row_changed(
        self,
        message: InputMessage,
        route: _Route,
        table: RowTable,
        outcome: RowOutcome,
        facts: list[EncodedFact],
        now_ms: int,
        stats: BatchStats,
    ) -> None:
        """Emits what a row table decided; its changed rows went to the changelog already
        (the table's rows write through), its snapshot run goes now."""
        for topic, key, value in facts:
            self.output.produce(topic, key, value)
        stats.facts += len(facts)
        if outcome.stale is not None:
            stale = outcome.stale
            stats.stale += 1
            stats.outcomes[(route.dept, "stale")] += 1
            stats.findings += self.finding_emitter.emit(
                [stale.finding(STAGE, now_ms)], stale.event_id, stats.quality)
        if outcome.run_changed:
            self.rows.write_run(table, message.partition)
        if outcome.closing is not None:
            # After this partition's reads of the run, in each other partition's own order.
            closing = outcome.closing.to_bytes()
            for partition in range(route.partitions):
                if partition != message.partition:
                    self.output.produce(message.topic, CLOSING_KEY, closing,
                                        partition=partition)

    def _close(
        self, message: InputMessage, route: _Route, now_ms: int, stats: BatchStats
    ) -> None:
        """A table's snapshot run closed on another partition: close it on this one."""
        try:
            closing = Closing.from_bytes(message.value or b"")
            table = self.rows.table(route.source, message.partition)
            outcome = table.close(closing)
            facts = self._encoded_facts(outcome.facts, message)
        except (ValueError, TypeError) as exc:
            self._reject(message, route, Failure(RAW_DECODE, "snapshot.bad_closing",
                                                 str(exc)[:300], type(exc).__name__),
                         "", now_ms, stats)
            return
        self._row_changed(message, route, table, outcome, facts, now_ms, stats)

    def _encoded_facts(self, facts: list[Fact], message: InputMessage) -> list[EncodedFact]:
        # Lineage: the theme row's facts name the raw message that made them.
        position = message.position
        encoded = []
        for fact in facts:
            fact["source_position"] = position
            # Keyed by entity key: the repartition point of the theme layer.
            encoded.append((self._fact_topics[fact["category"]].name,
                            self._encode_string_key(fact["entity_key"]),
                            self._encode_fact(fact)))
        return encoded

    def _skip(self, message: InputMessage, route: _Route, outcome: Ignored | Rejected,
              now_ms: int, stats: BatchStats) -> None:
        """A change-capture event that is deliberately not standardized, or cannot be."""
        if isinstance(outcome, Rejected):
            self._reject(message, route, Failure(RAW_DECODE, outcome.reason_code,
                                                 outcome.detail, outcome.exception_class),
                         message.position, now_ms, stats)
            return
        stats.filtered += 1
        stats.ignored[(route.dept, outcome.reason)] += 1
        stats.outcomes[(route.dept, "filtered")] += 1

    def _reject(self, message: InputMessage, route: _Route, failure: Failure, event_id: str,
                now_ms: int, stats: BatchStats) -> None:
        self.dead_letters.emit(message, failure, now_ms=now_ms, dept=route.dept,
                               event_id=event_id)
        stats.rejected += 1
        stats.rejected_by_reason[failure.reason] += 1
        stats.outcomes[(route.dept, "rejected")] += 1
        stats.dead_letters[(route.dept, failure.step, failure.reason)] += 1

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


class _Discard:
    """The changelog of row tables kept in memory only."""

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Any = None, partition: int = -1) -> None:
        pass


def _event_id(envelope: dict[str, Any] | None) -> str:
    return str(envelope.get("event_id", "")) if envelope else ""
