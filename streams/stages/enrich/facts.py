"""The fact stage: one std change event in, one fact per entity the record states out.

A fact (``fact/fact.avsc``) is what one source record says about one entity, keyed by
entity key so the theme stage sees every fact of an entity on one partition. c/u/r assert
the after image; d retracts (the record no longer states anything, so a retract carries no
attributes or links: it only names the contribution to remove).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from streams.stages.enrich.fact_map import FACT_MAP
from streams.stages.enrich.findings import missing_key
from streams.stages.enrich.moves import Moved
from streams.stages.enrich.plan import EntityPlan, SourcePlan, source_plan
from streams.stages.rules.findings import RuleViolation

ASSERT, RETRACT = "assert", "retract"
Fact = dict[str, Any]


class FactContext:
    """What every fact of one change of one source row shares."""

    __slots__ = ("dept", "event_id", "op", "record_key", "sequence", "source", "ts")

    def __init__(self, source: str, dept: str, op: str, record_key: str, event_id: str,
                 ts: int, sequence: str | None) -> None:
        self.source = source
        self.dept = dept
        self.op = op
        self.record_key = record_key
        self.event_id = event_id
        self.ts = ts
        self.sequence = sequence

    @classmethod
    def of_event(cls, plan: SourcePlan, envelope: Mapping[str, Any], row: Mapping[str, Any],
                 op: str) -> FactContext:
        origin = envelope.get("source") or {}
        record_key = _record_key(plan.key_fields, row)
        sequence: str | None = origin.get("sequence")
        ts: int = origin.get("ts_ms") or envelope.get("ts_ms") or 0
        # Plain Debezium events have no event id; a derived one is stable across
        # redeliveries, so fact ids still deduplicate.
        event_id: str = envelope.get("event_id") or (
            f"{plan.source}:{record_key}:{ts}:{sequence or ''}"
        )
        # The table's department, from its schema: plain Debezium fills source.dept with
        # nothing useful, and authority (一数一源) must not depend on the sender's label.
        return cls(plan.source, plan.dept, op, record_key, event_id, ts, sequence)

    def retract(self, moved: Moved) -> Fact:
        """The fact that removes this row's contribution in ``moved``'s role from it."""
        return self.fact(moved.role, moved.category, moved.entity_type, moved.entity_key,
                         RETRACT, {}, [])

    def fact(self, role: str, category: str, entity_type: str, key: str, op: str,
             attributes: dict[str, str | None], links: list[dict[str, str]]) -> Fact:
        return {
            "fact_id": f"{self.event_id}/{key}",
            "category": category,
            "entity_type": entity_type,
            "entity_key": key,
            "op": op,
            "source": self.source,
            "dept": self.dept,
            "record_key": self.record_key,
            "role": role,
            "event_id": self.event_id,
            "sequence": self.sequence,
            "source_position": None,  # the raw layer names the change's raw offset
            "source_ts_ms": self.ts,
            "attributes": attributes,
            "links": links,
        }


class Change(NamedTuple):
    """One std change event of one source row: its facts and what they share."""

    context: FactContext
    facts: list[Fact]


class FactExtractor:
    """Facts of std change events, by precomputed per-source plans."""

    def __init__(self, sources: Iterable[str] | None = None) -> None:
        self._plans = {s: source_plan(s) for s in (FACT_MAP if sources is None else sources)}

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self._plans)

    def extract(
        self,
        source: str,
        envelope: Mapping[str, Any] | None,
        notes: list[RuleViolation] | None = None,
    ) -> list[Fact]:
        """The facts of one std change event; entities without a key are skipped and, when
        ``notes`` is given, reported there as ``enrich.missing_key``."""
        return self._extract(source, envelope, notes)[0]

    def change(
        self,
        source: str,
        envelope: Mapping[str, Any] | None,
        notes: list[RuleViolation] | None = None,
    ) -> Change | None:
        """The facts of one std change event with what they share (the row's key, the event's
        id and source position); None for an event without a row image (a tombstone).

        A delete's facts retract what its image names; a key-only image names nothing (its
        entities have no keys, and are not reported missing: a delete states nothing)."""
        facts, context = self._extract(
            source, envelope, None if envelope is not None and envelope.get("op") == "d"
            else notes,
        )
        return None if context is None else Change(context, facts)

    def context(self, source: str, op: str, record_key: str, event_id: str, ts: int,
                sequence: str | None) -> FactContext:
        """A context for facts no event carries (a row a snapshot no longer holds)."""
        plan = self._plans[source]
        return FactContext(source, plan.dept, op, record_key, event_id, ts, sequence)

    def _extract(
        self,
        source: str,
        envelope: Mapping[str, Any] | None,
        notes: list[RuleViolation] | None,
    ) -> tuple[list[Fact], FactContext | None]:
        if envelope is None:
            return [], None  # a tombstone: the delete before it said everything
        plan = self._plans[source]
        if envelope.get("op") == "d":
            row, op = envelope.get("before"), RETRACT
        else:
            row, op = envelope.get("after"), ASSERT
        if row is None:
            return [], None  # e.g. a truncate: no row image, nothing stated
        context = FactContext.of_event(plan, envelope, row, op)
        facts = []
        for entity in plan.entities:
            when = entity.when
            if when is not None and row.get(when.field) != when.equals:
                continue
            key = entity.key(row)
            if not key:
                if notes is not None:
                    notes.append(missing_key(entity.key_fields, entity.role, entity.category))
                continue
            if op == ASSERT:
                attributes, links = _statement(entity, row)
            else:
                attributes, links = {}, []
            facts.append(context.fact(entity.role, entity.category, entity.entity_type, key,
                                      op, attributes, links))
        return facts, context


def _statement(
    entity: EntityPlan, row: Mapping[str, Any]
) -> tuple[dict[str, str | None], list[dict[str, str]]]:
    get = row.get
    attributes: dict[str, str | None] = {a: get(f) for a, f in entity.direct}
    for attribute, compute in entity.computed:
        attributes[attribute] = compute(row)
    links = []
    for link in entity.links:
        when = link.when
        if when is not None and get(when.field) != when.equals:
            continue
        target = link.key(row)
        if target:
            links.append({"relation": link.relation, "category": link.category, "key": target})
    return attributes, links


def _record_key(fields: tuple[str, ...], row: Mapping[str, Any]) -> str:
    if len(fields) == 1:
        return str(row.get(fields[0]))
    return "|".join(str(row.get(f)) for f in fields)
