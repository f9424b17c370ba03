"""Snapshot runs: a finished run deletes the rows of its table that it did not read."""

from __future__ import annotations

from typing import Any

from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.row_table import RowTable
from streams.stages.enrich.rows import Position, RowState, Verdict
from streams.stages.enrich.snapshots import Closing, SnapshotRun, marker, observe
from tests.unit.streams.stages.enrich.rows import ALICE, BOB, CAROL, event, resident

HOUSEHOLD = "household.resident"
EXTRACTOR = FactExtractor()
PEOPLE = {"R1": ALICE, "R2": BOB, "R3": CAROL}


def change(row_id: str, ts: int, mark: str = "false", op: str = "r") -> dict[str, Any]:
    envelope = event(resident(resident_id=row_id, id_number_pseudonym=PEOPLE[row_id]), op=op,
                     ts=ts, event_id=f"{row_id}@{ts}")
    envelope["source"]["snapshot"] = mark
    return envelope


def table(reconcile: bool | None = None) -> RowTable:
    rows = RowTable(EXTRACTOR, HOUSEHOLD, {}, reconcile_snapshots=reconcile)
    for row_id in PEOPLE:
        rows.apply(change(row_id, 1, op="c"))
    return rows


def retracted(facts: list[dict[str, Any]]) -> list[str]:
    return sorted(f["entity_key"] for f in facts if f["op"] == "retract")


def test_a_resnapshot_deletes_the_rows_it_did_not_read() -> None:
    rows = table()
    opened = rows.apply(change("R1", 10, "first"))
    assert opened.run_changed and rows.run == SnapshotRun(Position(10, "1"))
    closed = rows.apply(change("R3", 11, "last"))
    assert closed.run_changed and rows.run.start is None and closed.closing is not None
    assert retracted(closed.facts) == [BOB] and closed.written == ("R3", "R2")
    assert rows.rows["R2"].deleted and not rows.rows["R1"].deleted
    # A late event of the deleted row, older than the reconciliation, stays out.
    assert rows.apply(change("R2", 5, op="u")).verdict is Verdict.STALE


def test_a_change_after_the_start_keeps_its_row_and_an_older_late_one_does_not() -> None:
    rows = table()
    rows.apply(change("R1", 10, "first"))
    rows.apply(change("R2", 12, op="u"))  # streamed after the snapshot began
    rows.apply(change("R3", 4, op="u"))  # late, from before it: proves nothing
    assert retracted(rows.apply(change("R1", 11, "last")).facts) == [CAROL]


def test_a_run_closed_on_another_partition_closes_by_broadcast() -> None:
    elsewhere = table()
    elsewhere.apply(change("R1", 10, "first"))
    closing = elsewhere.apply(change("R1", 12, "last")).closing
    assert closing is not None and closing.start == Position(10, "1")
    assert Closing.from_bytes(closing.to_bytes()) == closing
    rows = table()
    rows.apply(change("R1", 11, "true"))
    assert rows.run.start is not None  # started by this partition's first read
    closed = rows.close(closing)
    assert retracted(closed.facts) == [BOB, CAROL] and rows.run.start is None
    assert rows.close(closing).facts == []  # a replayed close
    assert SnapshotRun.from_bytes(rows.run.to_bytes()) == rows.run
    untouched = table()  # no read of the run reached it: every row was deleted
    assert retracted(untouched.close(closing).facts) == [ALICE, BOB, CAROL]


def test_a_replayed_closing_marker_without_an_open_run_deletes_nothing() -> None:
    rows = table()
    rows.apply(change("R1", 10, "first"))
    last = change("R3", 11, "last")
    assert retracted(rows.apply(last).facts) == [BOB]
    rows.apply(change("R2", 12, op="c"))
    assert retracted(rows.apply(last).facts) == [] and rows.run.start is None


def test_a_single_read_run_opens_and_closes_at_its_read() -> None:
    rows = table()
    assert retracted(rows.apply(change("R1", 10, "last")).facts) == [BOB, CAROL]


def test_file_imports_do_not_reconcile_unless_declared() -> None:
    rows = table(reconcile=False)
    rows.apply(change("R1", 10, "first"))
    closed = rows.apply(change("R3", 11, "last"))
    assert retracted(closed.facts) == [] and not closed.run_changed
    assert table().reconcile_snapshots  # the demo sources are declared cdc


def test_incremental_reads_and_unknown_markers_open_no_run() -> None:
    at = Position(1, None)
    assert observe(SnapshotRun(), change("R1", 1, "incremental"), at, True).run.start is None
    assert marker(change("R1", 1, "sometimes")) is None
    assert observe(SnapshotRun(), change("R1", 1, "sometimes"), at, True).run.start is None


def test_the_run_and_the_rows_survive_their_changelog_form() -> None:
    rows = table()
    rows.apply(change("R1", 10, "first"))
    assert rows.run.start is not None
    restored = {k: RowState.from_bytes(v.to_bytes()) for k, v in rows.rows.items()}
    again = RowTable(EXTRACTOR, HOUSEHOLD, restored, SnapshotRun.from_bytes(rows.run.to_bytes()))
    assert retracted(again.apply(change("R3", 11, "last")).facts) == [BOB]


def test_a_close_of_a_run_this_partition_saw_superseded_changes_nothing() -> None:
    rows = table()
    rows.apply(change("R1", 10, "first"))
    rows.apply(change("R1", 20, "first"))  # a new snapshot began before the first closed
    earlier = Closing(Position(10, "1"), "R9@11", Position(11, "1"))
    assert rows.close(earlier).facts == [] and rows.run.start == Position(20, "1")
    assert retracted(rows.apply(change("R1", 21, "last")).facts) == [BOB, CAROL]


def test_a_late_event_from_before_a_closed_run_of_a_row_it_did_not_read_stays_out() -> None:
    rows = RowTable(EXTRACTOR, HOUSEHOLD, {})
    rows.apply(change("R1", 10, "last"))  # a one-row snapshot: R2 was not there
    late = rows.apply(change("R2", 5, op="c"))
    assert late.verdict is Verdict.STALE and late.facts == [] and "R2" not in rows.rows
    assert late.stale is not None and late.stale.held == Position(10, "1")
    assert rows.apply(change("R2", 12, op="c")).verdict is Verdict.APPLIED
