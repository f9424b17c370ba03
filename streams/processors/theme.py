"""The theme layer's per-batch work: facts in, merged 360 profiles out.

Plain Python over a state store interface; the theme worker plugs in its changelog-backed
store. Within a batch, the facts of one entity are applied in order to one in-memory state,
then the state is written and the profile rendered and encoded once: a busy entity costs
one table write and one theme encode per batch, not per fact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from ops.runtime.kafka_output import Output
from ops.runtime.messages import InputMessage
from ops.settings import DEFAULT_RETRACTION_HORIZON_HOURS
from streams.processors.emitters import FindingEmitter, SchemaIds
from streams.processors.stats import StageCounts
from streams.stages.enrich.profile import HOUR_MS, ProfileState, Status, apply_fact
from streams.stages.enrich.theme import conflict_findings, render
from topics.annotations import Category
from topics.catalog import Catalog
from topics.dead_letters import (
    THEME_APPLY,
    THEME_DECODE,
    THEME_ENCODE,
    THEME_RENDER,
    DeadLetterEmitter,
    Failure,
)
from topics.headers import version_headers
from topics.patience import RegistryUnavailableError
from topics.schemas import load_avsc
from topics.serde import (
    AvroDecoder,
    AvroEncoder,
    UndecodableMessageError,
)

STAGE = "theme"
_BEYOND_HORIZON = Failure(
    THEME_APPLY, "theme.beyond_horizon",
    "older than the entity's newest change minus the retraction horizon, for a record the "
    "profile does not hold: it cannot be told from a record whose retraction was forgotten",
    "")
Token = TypeVar("Token")


class StateStore(Protocol[Token]):  # type: ignore[misc]
    """Profile states by table key; both calls get the token of the fact being applied (the
    store may use it to find the state's partition)."""

    def get(self, key: str, token: Token) -> ProfileState | None: ...

    def put(self, key: str, value: ProfileState | None, token: Token) -> None: ...


@dataclass
class ThemeStats(StageCounts):
    """The theme layer's counts (``ignored``: none yet)."""

    profiles_written: int = 0
    tombstones: int = 0
    conflicts: int = 0
    by_category: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pending(Generic[Token]):
    category: Category
    entity_key: str
    state: ProfileState | None
    token: Token
    message: InputMessage  # the last fact applied: dead-lettered if the profile cannot be made
    store: bool = False  # the state moved on (even if the profile looks the same)
    emit: bool = False  # the profile changed: a new theme revision (or a tombstone)


class ThemeProcessor:
    """Applies a batch of fact messages to profile states and emits theme records."""

    def __init__(
        self,
        catalog: Catalog,
        decoder: AvroDecoder,
        schema_ids: SchemaIds,
        output: Output,
        clock_ms: Callable[[], int] | None = None,
        retraction_horizon_ms: int = DEFAULT_RETRACTION_HORIZON_HOURS * HOUR_MS,
    ) -> None:
        """``retraction_horizon_ms``: how late a fact may be (see ``profile``)."""
        self.catalog = catalog
        self.decoder = decoder
        self.horizon_ms = retraction_horizon_ms
        self.output = output
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        key_schema = load_avsc("keys/string_key.avsc")
        self._by_fact_topic: dict[str, Category] = {}
        self._theme: dict[Category, tuple[str, Callable[[Any], bytes], Callable[[Any], bytes]]] = {}
        for category in Category:
            self._by_fact_topic[catalog.fact(category).name] = category
            theme = catalog.theme(category)
            schema = load_avsc(f"theme/{category}.avsc")
            self._theme[category] = (
                theme.name,
                AvroEncoder(key_schema, schema_ids(theme.key_subject, key_schema)).encode,
                AvroEncoder(schema, schema_ids(theme.value_subject, schema)).encode,
            )
        self.finding_emitter = FindingEmitter(catalog.quality, schema_ids, output)
        self.dead_letters = DeadLetterEmitter(catalog, STAGE, output)

    @property
    def input_topics(self) -> list[str]:
        return list(self._by_fact_topic)

    def category_of(self, topic: str) -> Category:
        return self._by_fact_topic[topic]

    def process(
        self, batch: Sequence[tuple[InputMessage, Token]], store: StateStore[Token]
    ) -> ThemeStats:
        stats = ThemeStats()
        now_ms = self.clock_ms()
        pending: dict[str, _Pending[Token]] = {}
        for message, token in batch:
            category = self._by_fact_topic[message.topic]
            try:
                fact = self.decoder.decode(message.value) if message.value is not None else None
            except RegistryUnavailableError:
                raise  # an outage, not this message's fault: the batch is read again
            except UndecodableMessageError as exc:
                self._reject(message, Failure(THEME_DECODE, exc.reason_code, exc.detail,
                                              type(exc).__name__), now_ms, stats)
                continue
            except Exception as exc:
                self._reject(message, Failure.of(THEME_DECODE, exc), now_ms, stats)
                continue
            if fact is None:
                continue  # fact topics carry no tombstones of their own; tolerate them
            try:
                table_key = f"{category}:{fact['entity_key']}"
                entry = pending.get(table_key)
                if entry is None:
                    entry = _Pending(category, fact["entity_key"], store.get(table_key, token),
                                     token, message)
                    pending[table_key] = entry
                state, applied = apply_fact(entry.state, fact, self.horizon_ms)
            except Exception as exc:
                # A fact the merge cannot take (a poison pill) is set aside with its reason;
                # the worker goes on, and the entity keeps the state it had.
                self._reject(message, Failure.of(THEME_APPLY, exc), now_ms, stats)
                continue
            if applied.status is Status.BEYOND_HORIZON:
                self._reject(message, _BEYOND_HORIZON, now_ms, stats)
                continue
            entry.state, entry.token, entry.message = state, token, message
            stats.facts += 1
            stats.outcomes[(fact["dept"], "in")] += 1
            if applied.stale:
                stats.stale += 1
                stats.outcomes[(fact["dept"], "stale")] += 1
                continue
            entry.store = entry.store or applied.store
            entry.emit = entry.emit or applied.emit
            if applied.conflicts:
                self._findings(conflict_findings(fact, applied.conflicts, now_ms), fact, stats)
        for table_key, entry in pending.items():
            if entry.store and entry.state is not None:
                store.put(table_key, entry.state, entry.token)
                stats.profiles_written += 1
            if entry.emit:
                self._emit(entry, now_ms, stats)
        return stats

    def _emit(self, entry: _Pending[Token], now_ms: int, stats: ThemeStats) -> None:
        assert entry.state is not None
        name, encode_key, encode_value = self._theme[entry.category]
        step = THEME_RENDER
        try:
            record = render(entry.category, entry.entity_key, entry.state, now_ms)
            step = THEME_ENCODE
            key = encode_key(entry.entity_key)
            value = None if record is None else encode_value(record)
        except Exception as exc:
            # A profile that cannot be rendered or encoded is no reason to stop the layer:
            # the fact that last changed it goes to the DLQ; the next fact tries again.
            self._reject(entry.message, Failure.of(step, exc), now_ms, stats)
            return
        if value is None:
            stats.tombstones += 1
            self.output.produce(name, key, None, version_headers(entry.state.revision))
        else:
            self.output.produce(name, key, value)
        stats.outcomes[("govbus", "out")] += 1
        stats.by_category[entry.category] = stats.by_category.get(entry.category, 0) + 1

    def _findings(
        self, records: list[dict[str, Any]], fact: dict[str, Any], stats: ThemeStats
    ) -> None:
        stats.conflicts += self.finding_emitter.emit(records, fact["event_id"], stats.quality)

    def _reject(self, message: InputMessage, failure: Failure, now_ms: int,
                stats: ThemeStats) -> None:
        self.dead_letters.emit(message, failure, now_ms=now_ms)
        stats.rejected += 1
        stats.dead_letters[("unknown", failure.step, failure.reason)] += 1
