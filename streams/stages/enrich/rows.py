"""Source rows as a table: what each row of a source says now, and the facts a change implies.

Per source row (source table + record key) the raw layer keeps the row's last accepted source
position, the id of the event that set it, and the entities the row names, by role. A change
is judged against that state, never against the event's before image, which Debezium leaves
out of snapshot reads, of creates, of updates under a default replica identity, and of
deletes other than their key:

- an event of the row's last accepted id is a replay: its facts are emitted again (a theme
  stage that applied them ignores them as duplicates; one that lost them in a crash gets
  them), the state does not change;
- an event whose position is older than the row's is stale: not applied, reported as a
  ``timeliness.stale`` finding with both positions; one at the row's position under another
  id is a duplicate (a connector re-sending after a restart): not applied either;
- any other event is applied, whatever its op and before image: its asserts, plus a retract
  for each entity the row named and no longer names (a delete names none).

A deleted row stays as a marker with its position, so a late, older event cannot bring it
back. Raw topics are keyed by source row, so the worker owning a partition owns its rows: the
states of one (source, partition) are one store shard, backed by a compacted changelog like
the theme state. Everything here is pure: the caller reads and writes the store.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from streams.stages.enrich.facts import RETRACT, Change, Fact, FactContext
from streams.stages.enrich.findings import FLAGGED, STALE
from streams.stages.enrich.moves import Moved, RecordEntities, entities_of, moved_away
from streams.stages.enrich.order import OrderKey, order_key
from streams.stages.rules.findings import Dimension

_TIMELINESS = str(Dimension.TIMELINESS)


class RowState(NamedTuple):
    """What one source row says now, and since which event."""

    ts: int  # source position: source ts_ms and sequence (see ``order``)
    sequence: str | None
    event_id: str  # the last accepted event: a replay of it changes nothing
    entities: RecordEntities  # "role/category" -> [category, entity_type, entity_key]
    deleted: bool
    left: RecordEntities  # what the last accepted event retracted: emitted again on a replay
    order: OrderKey  # of (ts, sequence): derived, kept to compare each change once

    def to_bytes(self) -> bytes:
        """The changelog form: compact JSON (without the derived order)."""
        return orjson.dumps([self.ts, self.sequence, self.event_id, self.entities,
                             int(self.deleted), self.left])

    @classmethod
    def from_bytes(cls, data: bytes) -> RowState:
        return cls.from_fields(orjson.loads(data))

    @classmethod
    def from_fields(cls, fields: list[Any]) -> RowState:
        """From the decoded changelog form."""
        ts, sequence, event_id, entities, deleted, left = fields
        return cls(ts, sequence, event_id, entities, bool(deleted), left,
                   order_key(ts, sequence))


_NOTHING: RecordEntities = {}  # shared by states that name or left nothing: never mutated


class Verdict(StrEnum):
    APPLIED = "applied"  # the row moved on: store the state, emit the facts
    REPLAYED = "replayed"  # the row's last accepted event again: emit its facts once more
    # The row's position again under another event id (a connector re-sending after a
    # restart): emit nothing. Its facts would be duplicates for the theme stage, which holds
    # a contribution at that position, and must not name what the row does not.
    DUPLICATE = "duplicate"
    STALE = "stale"  # older than the row: emit nothing, report a finding
    IGNORED = "ignored"  # no row image (a tombstone): nothing to judge


class Position(NamedTuple):
    ts: int
    sequence: str | None

    def __str__(self) -> str:
        return f"{self.ts}/{self.sequence or '-'}"

    @property
    def order(self) -> OrderKey:
        return order_key(self.ts, self.sequence)


class Stale(NamedTuple):
    """An event not applied because its row already holds a newer (or equal) position."""

    source: str
    dept: str
    event_id: str
    held: Position  # the row's last accepted position
    offered: Position  # the event's

    def finding(self, stage: str, detected_ms: int) -> dict[str, Any]:
        """The ``timeliness.stale`` quality finding (``quality/finding.avsc``). The event id
        names the row to those who may read the raw topic; the finding carries no key, as
        findings are general grade and record keys are not."""
        return {
            "finding_id": f"{self.event_id}:{STALE}:",
            "event_id": self.event_id,
            "stage": stage,
            "dept": self.dept,
            "source": self.source,
            "dimension": _TIMELINESS,
            "reason": STALE,
            "field": "",
            "outcome": FLAGGED,
            "detail": f"source position {self.offered} is not after the row's {self.held}",
            "source_ts_ms": self.offered.ts,
            "detected_ms": detected_ms,
        }


class RowDecision(NamedTuple):
    verdict: Verdict
    facts: list[Fact]  # to emit, in order
    state: RowState | None  # the row's state after the event
    stale: Stale | None = None

    @property
    def store(self) -> bool:
        """The state changed: write it (and its changelog record)."""
        return self.verdict is Verdict.APPLIED


def accept(state: RowState | None, change: Change) -> RowDecision:
    """The decision on one change (``FactExtractor.change`` of a std event) of the row
    ``change.context.record_key``, whose stored state is ``state``."""
    context = change.context
    order = order_key(context.ts, context.sequence)
    if state is not None:
        if context.event_id == state.event_id:
            again = [] if state.deleted else change.facts
            return RowDecision(Verdict.REPLAYED, [*again, *retracts(context, state.left)],
                               state)
        if order == state.order:
            return RowDecision(Verdict.DUPLICATE, [], state)
        if order < state.order:
            stale = Stale(context.source, context.dept, context.event_id,
                          Position(state.ts, state.sequence),
                          Position(context.ts, context.sequence))
            return RowDecision(Verdict.STALE, [], state, stale)
    deleting = context.op == RETRACT
    if deleting:
        # The row's state says what it named; without one (a row older than the state, or
        # a restored changelog that lost it), the delete's own image is all there is.
        previous = state.entities if state is not None else entities_of(change.facts)
        asserts: list[Fact] = []
        now: RecordEntities = {}
    else:
        previous = state.entities if state is not None else _NOTHING
        asserts = change.facts
        now = entities_of(asserts)
    if not previous or previous == now:  # the common update: the same entities again
        return RowDecision(Verdict.APPLIED, asserts, RowState(
            context.ts, context.sequence, context.event_id, now, deleting, _NOTHING, order))
    left = _slots(moved_away(previous, now))
    new = RowState(context.ts, context.sequence, context.event_id, now, deleting, left, order)
    return RowDecision(Verdict.APPLIED, [*asserts, *retracts(context, left)], new)


def retracts(context: FactContext, left: RecordEntities) -> list[Fact]:
    """Retracts of the row's contributions to the entities ``left`` names."""
    return [context.retract(Moved(slot.partition("/")[0], category, entity_type, key))
            for slot, (category, entity_type, key) in left.items()]


def _slots(moved: list[Moved]) -> RecordEntities:
    return {f"{m.role}/{m.category}": [m.category, m.entity_type, m.entity_key] for m in moved}

