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
partition's run therefore starts at its first read (an opening marker starts a new one), and
is closed by a closing marker on that partition or by ``close``, which the runtime calls when
the closing marker seen on another partition reaches this one (after this partition's reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from streams.enrich.facts import RETRACT, FactExtractor
from streams.enrich.rows import Position, RowDecision, RowState, Verdict, retracts


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
    """A run open on one (source, partition), from its first read's position."""

    start: Position

    def to_bytes(self) -> bytes:
        return orjson.dumps(list(self.start))

    @classmethod
    def from_bytes(cls, data: bytes) -> SnapshotRun:
        ts, sequence = orjson.loads(data)
        return cls(Position(ts, sequence))


class Closing(NamedTuple):
    """The end of a run: its start, and the closing event, at whose position rows the run
    did not read are deleted. What ``close`` is given on the other partitions."""

    start: Position
    event_id: str
    at: Position


class Observed(NamedTuple):
    run: SnapshotRun | None  # the partition's run after the event (store it when changed)
    closing: Closing | None  # the event closed the run: reconcile now


def marker(envelope: Mapping[str, Any]) -> Marker | None:
    """The event's ``source.snapshot``; None for a value Debezium does not define."""
    value = (envelope.get("source") or {}).get("snapshot") or Marker.FALSE
    try:
        return Marker(value)
    except ValueError:
        return None


def observe(run: SnapshotRun | None, envelope: Mapping[str, Any], position: Position,
            applied: bool) -> Observed:
    """The partition's run after one event of its table, at ``position``; ``applied``: the
    row table took the event (it is no replay and not stale)."""
    mark = marker(envelope)
    if mark not in READING:
        return Observed(run, None)
    if mark in OPENING or run is None:
        if mark in CLOSING and not applied:
            # A closing marker with no run open, taken before: a replay of a close already
            # made; where its run started is not known any more.
            return Observed(None, None)
        run = SnapshotRun(position)
    if mark in CLOSING:
        return Observed(None, Closing(run.start, str(envelope.get("event_id") or ""), position))
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
        gone = RowState(at.ts, at.sequence, event_id, {}, True, state.entities)
        deletes.append((record_key, RowDecision(Verdict.APPLIED,
                                                retracts(context, state.entities), gone)))
    return deletes
