"""Snapshot runs of a source table, and the rows a finished run no longer holds.

Debezium marks every snapshot read in ``source.snapshot``: ``first`` on the snapshot's first
record, ``first_in_data_collection`` on each table's first, ``true`` on the others,
``last_in_data_collection`` on each table's last, ``last`` on the snapshot's last;
``incremental`` on the chunked reads of an incremental snapshot (which have no end marker and
run beside streaming), ``false`` when streaming. A run of one table is the reads from its
opening marker to its closing one. Once it closed, a row of the table that the run did not
mention was deleted while the connector was away: it is deleted here, so its profiles go too.

Raw topics are partitioned by row key, so a table's markers land on one partition each. A
partition's run therefore opens at its first read (an opening marker opens a new one), and is
closed by a closing marker on that partition or by ``close``, which the runtime calls when
another partition's closing marker reaches this one. Everything the partition sees while the
run is open (reads, and streaming changes, stale or not) counts as a mention.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from streams.enrich.facts import RETRACT, FactExtractor
from streams.enrich.order import order_key
from streams.enrich.rows import RowDecision, RowState, Verdict, retracts


class Marker(StrEnum):
    FIRST = "first"
    FIRST_IN_TABLE = "first_in_data_collection"
    TRUE = "true"
    LAST_IN_TABLE = "last_in_data_collection"
    LAST = "last"
    INCREMENTAL = "incremental"
    FALSE = "false"


OPENING = frozenset({Marker.FIRST, Marker.FIRST_IN_TABLE})
READING = frozenset({Marker.FIRST, Marker.FIRST_IN_TABLE, Marker.TRUE, Marker.LAST_IN_TABLE,
                     Marker.LAST})
CLOSING = frozenset({Marker.LAST, Marker.LAST_IN_TABLE})


class SnapshotRun(NamedTuple):
    """An open run on one (source, partition): the event that opened it names it."""

    run_id: str

    def to_bytes(self) -> bytes:
        return orjson.dumps([self.run_id])

    @classmethod
    def from_bytes(cls, data: bytes) -> SnapshotRun:
        [run_id] = orjson.loads(data)
        return cls(run_id)


class Closing(NamedTuple):
    """The event that closed a run: reconciliation deletes are made at its position."""

    event_id: str
    ts: int
    sequence: str | None


class Observed(NamedTuple):
    run: SnapshotRun | None  # the partition's run after the event (store it when changed)
    mention: str  # the run id to stamp on the event's row ("": none open)
    closing: Closing | None  # the event closes the run: reconcile once it is applied


def marker(envelope: Mapping[str, Any]) -> Marker | None:
    """The event's ``source.snapshot``; None for a value Debezium does not define."""
    value = (envelope.get("source") or {}).get("snapshot") or Marker.FALSE
    try:
        return Marker(value)
    except ValueError:
        return None


def observe(run: SnapshotRun | None, envelope: Mapping[str, Any]) -> Observed:
    """The partition's run after one event of its table (``envelope``: raw or std)."""
    mark = marker(envelope)
    event_id = str(envelope.get("event_id") or "")
    if mark in OPENING or (run is None and mark in READING - CLOSING):
        # A closing marker with no run open closes nothing: it is a replay of a close, or
        # the end of a run whose reads this partition did not see.
        run = SnapshotRun(event_id)
    if run is None:
        return Observed(None, "", None)
    if mark in CLOSING:
        origin = envelope.get("source") or {}
        closing = Closing(event_id, origin.get("ts_ms") or envelope.get("ts_ms") or 0,
                          origin.get("sequence"))
        return Observed(None, run.run_id, closing)
    return Observed(run, run.run_id, None)


def mentioned(state: RowState | None, run_id: str) -> RowState | None:
    """``state`` stamped as mentioned by run ``run_id`` (the same object when it was)."""
    if state is None or not run_id or state.run == run_id:
        return state
    return state._replace(run=run_id)


def reconcile(
    extractor: FactExtractor,
    source: str,
    run_id: str,
    closing: Closing,
    rows: Iterable[tuple[str, RowState]],
) -> list[tuple[str, RowDecision]]:
    """Deletes of the rows (record key, state) of ``source`` on the partition that run
    ``run_id`` did not mention: their retracts and deleted states, at the closing position.

    A row whose position is not before the closing one changed after the snapshot was taken,
    so it is kept."""
    at = order_key(closing.ts, closing.sequence)
    deletes = []
    for record_key, state in rows:
        if state.deleted or state.run == run_id or state.order >= at:
            continue
        event_id = f"{closing.event_id}:unread:{record_key}"
        context = extractor.context(source, RETRACT, record_key, event_id, closing.ts,
                                    closing.sequence)
        gone = RowState(closing.ts, closing.sequence, event_id, {}, True, state.entities,
                        state.run)
        deletes.append((record_key, RowDecision(Verdict.APPLIED,
                                                retracts(context, state.entities), gone)))
    return deletes

