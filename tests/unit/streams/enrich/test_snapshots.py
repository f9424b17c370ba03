"""Snapshot runs: a finished run deletes the rows of its table that it did not read."""

from __future__ import annotations

from typing import Any

from streams.enrich.facts import FactExtractor
from streams.enrich.row_table import RowTable
from streams.enrich.rows import RowState, Verdict
from streams.enrich.snapshots import Closing, SnapshotRun, marker, observe
from tests.unit.streams.enrich.rows import ALICE, BOB, CAROL, event, resident

HOUSEHOLD = "household.resident"
EXTRACTOR = FactExtractor()


def read(row: dict[str, Any], ts: int, mark: str, op: str = "r") -> dict[str, Any]:
    envelope = event(row, op=op, ts=ts)
    envelope["source"]["snapshot"] = mark
    return envelope


def table(reconcile: bool | None = None) -> RowTable:
    return RowTable(EXTRACTOR, HOUSEHOLD, {}, reconcile_snapshots=reconcile)


def three_rows(rows: RowTable) -> None:
    for n, person in enumerate((ALICE, BOB, CAROL), start=1):
        rows.apply(read(resident(resident_id=f"R{n}", id_number_pseudonym=person), 1, "false",
                        op="c"))


def retracted(facts: list[dict[str, Any]]) -> list[str]:
    return [f["entity_key"] for f in facts if f["op"] == "retract"]


def test_a_resnapshot_deletes_the_rows_it_did_not_read() -> None:
    rows = table()
    three_rows(rows)
    opened = rows.apply(read(resident(resident_id="R1", id_number_pseudonym=ALICE), 10, "first"))
    assert opened.run_changed and rows.run is not None
    closed = rows.apply(read(resident(resident_id="R3", id_number_pseudonym=CAROL), 11, "last"))
    assert closed.run_changed and rows.run is None
    assert retracted(closed.facts) == [BOB] and closed.written == ("R3", "R2")
    assert rows.rows["R2"].deleted and not rows.rows["R1"].deleted
    # A late event of the deleted row, older than the reconciliation, stays out.
    late = rows.apply(read(resident(resident_id="R2", id_number_pseudonym=BOB), 5, "false",
                           op="u"))
    assert late.verdict is Verdict.STALE


def test_streaming_changes_during_a_run_count_as_mentions() -> None:
    rows = table()
    three_rows(rows)
    rows.apply(read(resident(resident_id="R1", id_number_pseudonym=ALICE), 10, "first"))
    rows.apply(read(resident(resident_id="R2", id_number_pseudonym=BOB), 10, "false", op="u"))
    closed = rows.apply(read(resident(resident_id="R3", id_number_pseudonym=CAROL), 11,
                             "last_in_data_collection"))
    assert len(closed.facts) == 1 and retracted(closed.facts) == []


def test_a_run_closed_on_another_partition_closes_by_broadcast() -> None:
    rows = table()
    three_rows(rows)
    rows.apply(read(resident(resident_id="R1", id_number_pseudonym=ALICE), 10, "true"))
    assert rows.run is not None  # opened by this partition's first read
    closed = rows.close(Closing("ev-last", 12, None))
    assert sorted(retracted(closed.facts)) == [BOB, CAROL] and rows.run is None
    assert rows.close(Closing("ev-last", 12, None)).facts == []


def test_a_closing_marker_without_an_open_run_deletes_nothing() -> None:
    rows = table()
    three_rows(rows)
    replayed_close = rows.apply(read(resident(resident_id="R1", id_number_pseudonym=ALICE), 10,
                                     "last"))
    assert retracted(replayed_close.facts) == [] and rows.run is None


def test_file_imports_do_not_reconcile_unless_declared() -> None:
    rows = table(reconcile=False)
    three_rows(rows)
    rows.apply(read(resident(resident_id="R1", id_number_pseudonym=ALICE), 10, "first"))
    closed = rows.apply(read(resident(resident_id="R3", id_number_pseudonym=CAROL), 11, "last"))
    assert retracted(closed.facts) == [] and rows.run is None and not closed.run_changed
    assert table().reconcile_snapshots  # the demo sources are declared cdc


def test_incremental_reads_and_unknown_markers_open_no_run() -> None:
    assert observe(None, read(resident(), 1, "incremental")).run is None
    assert marker(read(resident(), 1, "sometimes")) is None
    assert observe(None, read(resident(), 1, "sometimes")).run is None


def test_the_run_and_the_rows_survive_their_changelog_form() -> None:
    rows = table()
    three_rows(rows)
    rows.apply(read(resident(resident_id="R1", id_number_pseudonym=ALICE), 10, "first"))
    assert rows.run is not None
    assert SnapshotRun.from_bytes(rows.run.to_bytes()) == rows.run
    restored = {k: RowState.from_bytes(v.to_bytes()) for k, v in rows.rows.items()}
    again = RowTable(EXTRACTOR, HOUSEHOLD, restored, SnapshotRun.from_bytes(rows.run.to_bytes()))
    closed = again.apply(read(resident(resident_id="R3", id_number_pseudonym=CAROL), 11, "last"))
    assert retracted(closed.facts) == [BOB]
