"""The rows of one source on one raw partition (one store shard), driven event by event.

Joins the row decisions (``rows``) and the snapshot runs (``snapshots``) over a mapping the
caller owns: a store shard whose changed keys it writes to the changelog. The partition's
open snapshot run is part of the shard's state too (``run``, written when ``run_changed``).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, NamedTuple

from streams.stages.enrich.facts import Fact, FactExtractor
from streams.stages.enrich.rows import Position, RowState, Stale, Verdict, accept
from streams.stages.enrich.snapshots import Closing, SnapshotRun, is_read, observe, reconcile
from streams.stages.rules.findings import RuleViolation
from topics.schemas import row_spec

_NOTHING: dict[str, list[str]] = {}  # never mutated


class RowOutcome(NamedTuple):
    verdict: Verdict  # of the event itself (APPLIED for a close)
    facts: list[Fact]  # to emit in order: the event's, then those of rows a run did not read
    stale: Stale | None  # report it as a ``timeliness.stale`` finding
    written: tuple[str, ...]  # record keys whose state changed: write their changelog records
    run_changed: bool  # the partition's snapshot run changed: write it too
    closing: Closing | None = None  # the event closed a run: ``close`` the other partitions


class RowTable:
    """One (source, partition) shard of row states and its open snapshot run."""

    def __init__(
        self,
        extractor: FactExtractor,
        source: str,
        rows: MutableMapping[str, RowState],
        run: SnapshotRun | None = None,
        reconcile_snapshots: bool | None = None,
    ) -> None:
        self.extractor = extractor
        self.source = source
        self.rows = rows
        self.run = run if run is not None else SnapshotRun()
        self.reconcile_snapshots = (
            row_spec(source).reconcile_snapshots
            if reconcile_snapshots is None else reconcile_snapshots
        )

    def apply(
        self, envelope: Mapping[str, Any] | None, notes: list[RuleViolation] | None = None
    ) -> RowOutcome:
        """One std change event of this source's partition (``notes`` collects missing
        entity keys); a tombstone (None) changes nothing."""
        change = self.extractor.change(self.source, envelope, notes)
        if change is None:
            return RowOutcome(Verdict.IGNORED, [], None, (), False)
        assert envelope is not None  # a change has an event
        key = change.context.record_key
        decision = accept(self._state(key), change)
        written: tuple[str, ...] = ()
        if decision.verdict is Verdict.APPLIED:
            assert decision.state is not None  # an applied change leaves a state
            self.rows[key] = decision.state
            written = (key,)
        if not self.reconcile_snapshots or not is_read(envelope):
            return RowOutcome(decision.verdict, decision.facts, decision.stale, written, False)
        context = change.context
        observed = observe(self.run, envelope, Position(context.ts, context.sequence),
                           decision.verdict is Verdict.APPLIED)
        run_changed = observed.run != self.run
        self.run = observed.run
        facts = decision.facts
        if observed.closing is not None:
            deleted, more = self._reconcile(observed.closing)
            written += deleted
            facts = [*facts, *more]
        return RowOutcome(decision.verdict, facts, decision.stale, written, run_changed,
                          observed.closing)

    def close(self, closing: Closing) -> RowOutcome:
        """Closes the partition's run when another partition saw the table's closing marker
        (``closing``, from that partition's ``RowOutcome``). A replayed close, or one of a
        run this partition has since seen superseded, changes nothing."""
        if not self.reconcile_snapshots:
            return RowOutcome(Verdict.IGNORED, [], None, (), False)
        run, reconciled = self.run.closes(closing)
        if reconciled is None:
            return RowOutcome(Verdict.IGNORED, [], None, (), False)
        self.run = run
        deleted, facts = self._reconcile(reconciled)
        return RowOutcome(Verdict.APPLIED, facts, None, deleted, True)

    def _state(self, key: str) -> RowState | None:
        state = self.rows.get(key)
        if state is not None or not self.reconcile_snapshots:
            return state
        since = self.run.known_since
        if since is None:
            return None
        # A closed run read every row there was at its start, and not this one: as of then,
        # the row was gone (a late event from before cannot bring it back).
        return RowState(since.ts, since.sequence, "", _NOTHING, True, _NOTHING, since.order)

    def _reconcile(self, closing: Closing) -> tuple[tuple[str, ...], list[Fact]]:
        closed = reconcile(self.extractor, self.source, closing, self.rows.items())
        for key, decision in closed:
            assert decision.state is not None  # a delete leaves a deleted state
            self.rows[key] = decision.state
        return tuple(k for k, _ in closed), [f for _, d in closed for f in d.facts]
