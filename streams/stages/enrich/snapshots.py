"""Snapshot runs of a source table, and the rows a finished run no longer holds.

Debezium marks every snapshot read in ``source.snapshot``: ``first`` on the snapshot's first
record, ``first_in_data_collection`` on each table's first, ``true`` on the others,
``last_in_data_collection`` on each table's last, ``last`` on the snapshot's last;
``incremental`` on the chunked reads of an incremental snapshot (which have no end marker and
run beside streaming), ``false`` when streaming. A run of one table is the reads from its
opening marker to its closing one. Every row the table holds is read, at or after the run's
start position. So once the run closed, a row whose last accepted position is still before
the start was not read: it was deleted while the connector was away, and is deleted here, at
the closing position, so its profiles go too. Late events older than the start prove nothing
and change nothing of this; any change at or after it does keep its row.

Raw topics are partitioned by row key, so a table's markers land on one partition each. A
partition's run therefore starts at its first read taken (an opening marker starts a new one;
a replayed or stale read starts none). It is closed by a closing marker on that partition,
or by ``close``, which the runtime calls when the closing marker seen on another partition
reaches this one, appended after this partition's reads of the run. Each partition remembers
the last closing it applied, so replayed closes change nothing. A partition that reads a
later snapshot before an earlier one's close reached it keeps the earlier start: rows deleted
between the two snapshots then stay until the next one (kept too long, never lost).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from streams.stages.enrich.facts import RETRACT, FactExtractor
from streams.stages.enrich.rows import Position, RowDecision, RowState, Verdict, retracts


class Marker(StrEnum):
    FIRST = "first"
    FIRST_IN_TABLE = "first_in_data_collection"
    TRUE = "true"
    LAST_IN_TABLE = "last_in_data_collection"
    LAST = "last"
    INCREMENTAL = "incremental"
    FALSE = "false"


OPENING = frozenset({Marker.FIRST, Marker.FIRST_IN_TABLE})
CLOSING = frozenset({Marker.LAST, Marker.LAST_IN_TABLE})
READING = OPENING | CLOSING | {Marker.TRUE}


class SnapshotRun(NamedTuple):
    """The snapshot state of one (source, partition): the open run's start, and the last
    run it closed. Closes up to that one are done (replays change nothing), and the table's
    rows are known as of its start: an event from before it, of a row the partition does
    not hold, is of a row that run found gone."""

    start: Position | None = None  # None: no run open
    last: Closing | None = None

    def to_bytes(self) -> bytes:
        """The changelog form."""
        return orjson.dumps([None if self.start is None else list(self.start),
                             None if self.last is None else self.last.to_json()])

    @classmethod
    def from_bytes(cls, data: bytes) -> SnapshotRun:
        return cls.from_fields(orjson.loads(data))

    @classmethod
    def from_fields(cls, fields: list[Any]) -> SnapshotRun:
        """From the decoded changelog form."""
        start, last = fields
        return cls(None if start is None else Position(*start),
                   None if last is None else Closing.from_json(last))

    @property
    def known_since(self) -> Position | None:
        """Where the last closed run started: the table's rows as of then are known."""
        return None if self.last is None else self.last.start

    def closes(self, closing: Closing) -> tuple[SnapshotRun, Closing | None]:
        """This partition's state after a run of its table closed (here or on another
        partition), and the closing to reconcile with, or None when it was done before.

        A run open here that started after the closing belongs to a later snapshot: the
        closing is of one it superseded, whose deletes the later run will make. Otherwise
        the earlier start keeps every row either partition saw being read."""
        if self.last is not None and closing.at.order <= self.last.at.order:
            return self, None
        if self.start is not None:
            if self.start.order > closing.at.order:
                return self, None
            if self.start.order < closing.start.order:
                closing = closing._replace(start=self.start)
        return SnapshotRun(None, closing), closing


class Closing(NamedTuple):
    """The end of a run: where it started, and the closing event, at whose position the
    rows the run did not read are deleted. What ``close`` gets on the other partitions."""

    start: Position
    event_id: str
    at: Position

    def to_json(self) -> list[Any]:
        return [list(self.start), self.event_id, list(self.at)]

    @classmethod
    def from_json(cls, data: list[Any]) -> Closing:
        start, event_id, at = data
        return cls(Position(*start), event_id, Position(*at))

    def to_bytes(self) -> bytes:
        """The form that carries it to the table's other partitions."""
        return orjson.dumps(self.to_json())

    @classmethod
    def from_bytes(cls, data: bytes) -> Closing:
        return cls.from_json(orjson.loads(data))


class Observed(NamedTuple):
    run: SnapshotRun  # the partition's snapshot state after the event (store it if changed)
    closing: Closing | None  # the event closed the run: reconcile, and tell other partitions


_MARKERS = {m.value: m for m in Marker}


def marker(envelope: Mapping[str, Any]) -> Marker | None:
    """The event's ``source.snapshot``; None for a value Debezium does not define."""
    return _MARKERS.get((envelope.get("source") or {}).get("snapshot") or Marker.FALSE)


def is_read(envelope: Mapping[str, Any]) -> bool:
    """A snapshot read: the only events that start or close a run."""
    return marker(envelope) in READING


def observe(run: SnapshotRun, envelope: Mapping[str, Any], position: Position,
            applied: bool) -> Observed:
    """The partition's snapshot state after one event of its table, at ``position``;
    ``applied``: the row table took the event (it is no replay and not stale)."""
    mark = marker(envelope)
    if mark not in READING:
        return Observed(run, None)
    if applied and (mark in OPENING or run.start is None):
        run = run._replace(start=position)
    if run.start is None:
        # A replayed (or stale) read opens nothing: after a crash, a replay from the middle
        # of a run already closed would start one at the wrong place and delete the rows
        # read before it.
        return Observed(run, None)
    if mark in CLOSING:
        event_id = str(envelope.get("event_id") or "")
        after, closing = run.closes(Closing(run.start, event_id, position))
        return Observed(after, closing)
    return Observed(run, None)


def reconcile(
    extractor: FactExtractor,
    source: str,
    closing: Closing,
    rows: Iterable[tuple[str, RowState]],
) -> list[tuple[str, RowDecision]]:
    """Deletes of the rows (record key, state) of ``source`` on one partition that the run
    ending in ``closing`` did not read: those still before its start. Made at the closing
    position, with an event id of their own, so they are as idempotent as any change."""
    start, at = closing.start.order, closing.at
    deletes = []
    for record_key, state in rows:
        if state.deleted or state.order >= start:
            continue
        event_id = f"{closing.event_id}:unread:{record_key}"
        context = extractor.context(source, RETRACT, record_key, event_id, at.ts, at.sequence)
        gone = RowState(at.ts, at.sequence, event_id, {}, True, state.entities, at.order)
        deletes.append((record_key, RowDecision(Verdict.APPLIED,
                                                retracts(context, state.entities), gone)))
    return deletes
