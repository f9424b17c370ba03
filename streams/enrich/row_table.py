"""The rows of one source on one raw partition (one store shard), driven event by event.

Joins the row decisions (``rows``) and the snapshot runs (``snapshots``) over a mapping the
caller owns: a store shard whose changed keys it writes to the changelog. The partition's
open snapshot run is part of the shard's state too (``run``, written when ``run_changed``).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, NamedTuple

from streams.enrich.facts import Fact, FactExtractor
from streams.enrich.rows import RowDecision, RowState, Stale, Verdict, accept
from streams.enrich.snapshots import Closing, SnapshotRun, mentioned, observe, reconcile
from streams.rules.findings import RuleViolation
from topics.schemas import row_spec


class RowOutcome(NamedTuple):
    verdict: Verdict  # of the event itself (APPLIED for a close)
    facts: list[Fact]  # to emit in order: the event's, then those of rows a run did not read
    stale: Stale | None  # report it as a ``timeliness.stale`` finding
    written: tuple[str, ...]  # record keys whose state changed: write their changelog records
    run_changed: bool  # the partition's snapshot run changed: write it too


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
        self.run = run
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
        held = self.rows.get(key)
        decision = accept(held, change)
        state, facts, written = decision.state, list(decision.facts), []
        closing, mention, run_changed = None, "", False
        if self.reconcile_snapshots:
            observed = observe(self.run, envelope)
            run_changed = observed.run != self.run
            self.run, closing, mention = observed.run, observed.closing, observed.mention
            state = mentioned(state, mention)
        if state is not held and state is not None:  # applied, or newly mentioned by a run
            self.rows[key] = state
            written.append(key)
        if closing is not None:
            for deleted, done in self._reconcile(mention, closing):
                written.append(deleted)
                facts.extend(done.facts)
        return RowOutcome(decision.verdict, facts, decision.stale, tuple(written), run_changed)

    def close(self, closing: Closing) -> RowOutcome:
        """Closes the partition's run when another partition saw the table's closing marker
        (``closing``: that event); nothing when no run is open."""
        run = self.run
        if run is None or not self.reconcile_snapshots:
            return RowOutcome(Verdict.IGNORED, [], None, (), False)
        self.run = None
        closed = self._reconcile(run.run_id, closing)
        facts = [f for _, d in closed for f in d.facts]
        return RowOutcome(Verdict.APPLIED, facts, None, tuple(k for k, _ in closed), True)

    def _reconcile(self, run_id: str, closing: Closing) -> list[tuple[str, RowDecision]]:
        closed = reconcile(self.extractor, self.source, run_id, closing, self.rows.items())
        for key, decision in closed:
            self.rows[key] = decision.state  # type: ignore[assignment]  # deletes have one
        return closed
