"""The row table: changes judged against what each source row says now, not its before image."""

from __future__ import annotations

from typing import Any

from fastavro.validation import validate

from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.rows import Position, RowDecision, RowState, Verdict, accept
from streams.stages.enrich.theme import render
from tests.unit.streams.stages.enrich.rows import (
    ALICE,
    BOB,
    FACT_SCHEMA,
    FINDING_SCHEMA,
    enterprise,
    event,
    fold,
    resident,
)

HOUSEHOLD, MARKET = "household.resident", "market.enterprise"
EXTRACTOR = FactExtractor()


def decide(source: str, state: RowState | None, envelope: dict[str, Any]) -> RowDecision:
    change = EXTRACTOR.change(source, envelope)
    assert change is not None
    decision = accept(state, change)
    for fact in decision.facts:
        assert validate(fact, FACT_SCHEMA, raise_errors=True)
    return decision


def ops(decision: RowDecision) -> list[tuple[str, str, str]]:
    return [(f["op"], f["role"], f["entity_key"]) for f in decision.facts]


def test_a_resnapshot_without_a_before_image_retracts_the_person_the_row_named() -> None:
    first = decide(HOUSEHOLD, None, event(resident(), op="c", ts=1))
    assert first.verdict is Verdict.APPLIED and ops(first) == [("assert", "self", ALICE)]
    read = decide(HOUSEHOLD, first.state,
                  event(resident(id_number_pseudonym=BOB, name_masked="吴*兰"), op="r", ts=2))
    assert ops(read) == [("assert", "self", BOB), ("retract", "self", ALICE)]
    alice = fold(*(f for d in (first, read) for f in d.facts if f["entity_key"] == ALICE))
    assert render("individual", ALICE, alice, 0) is None
    bob = fold(*(f for d in (first, read) for f in d.facts if f["entity_key"] == BOB))
    record = render("individual", BOB, bob, 0)
    assert record is not None and record["name"] == "吴*兰"


def test_a_create_on_an_existing_key_and_an_update_without_before_retract_too() -> None:
    state = decide(MARKET, None, event(enterprise(), ts=1)).state
    again = decide(MARKET, state, event(enterprise(legal_rep_id_number_pseudonym=BOB), ts=2))
    assert ("retract", "legal_rep", ALICE) in ops(again)
    update = decide(MARKET, again.state,
                    event(enterprise(legal_rep_id_number_pseudonym=ALICE), op="u", ts=3))
    assert ("retract", "legal_rep", BOB) in ops(update)
    assert ("assert", "legal_rep", ALICE) in ops(update)


def test_a_key_only_delete_retracts_everything_the_row_named() -> None:
    state = decide(MARKET, None, event(enterprise(), ts=1)).state
    key_only = {"enterprise_id": "E1"}
    delete = decide(MARKET, state, event(key_only, op="d", ts=2))
    assert sorted(ops(delete)) == [("retract", "legal_rep", ALICE),
                                   ("retract", "self", "91340100MA0000000A")]
    assert delete.state is not None and delete.state.deleted and delete.state.entities == {}


def test_a_delete_of_an_unknown_row_retracts_what_its_image_names() -> None:
    delete = decide(HOUSEHOLD, None, event(resident(), op="d", ts=2))
    assert ops(delete) == [("retract", "self", ALICE)]


def test_an_older_event_is_stale_and_reported_with_both_positions() -> None:
    state = decide(HOUSEHOLD, None, event(resident(), ts=5, seq="10")).state
    late = decide(HOUSEHOLD, state,
                  event(resident(id_number_pseudonym=BOB), op="u", ts=5, seq="9"))
    assert late.verdict is Verdict.STALE and late.facts == [] and late.state is state
    assert late.stale is not None
    assert (late.stale.held, late.stale.offered) == (Position(5, "10"), Position(5, "9"))
    finding = late.stale.finding("standardize", 99)
    assert validate(finding, FINDING_SCHEMA, raise_errors=True)
    assert finding["reason"] == "timeliness.stale" and finding["dimension"] == "timeliness"
    assert "5/9" in finding["detail"] and "5/10" in finding["detail"]
    assert "R1" not in finding["detail"]


def test_an_equal_position_under_another_event_id_is_a_silent_duplicate() -> None:
    state = decide(HOUSEHOLD, None, event(resident(), ts=5, event_id="a")).state
    other = decide(HOUSEHOLD, state, event(resident(id_number_pseudonym=BOB), ts=5,
                                           event_id="b"))
    assert other.verdict is Verdict.DUPLICATE and other.facts == [] and other.stale is None
    assert other.state is state


def test_a_late_delete_does_not_delete_and_a_deleted_row_stays_deleted() -> None:
    state = decide(HOUSEHOLD, None, event(resident(), ts=3)).state
    assert decide(HOUSEHOLD, state, event(resident(), op="d", ts=2)).verdict is Verdict.STALE
    deleted = decide(HOUSEHOLD, state, event(resident(), op="d", ts=4)).state
    late_create = decide(HOUSEHOLD, deleted, event(resident(), op="c", ts=1))
    assert late_create.verdict is Verdict.STALE
    back = decide(HOUSEHOLD, deleted, event(resident(id_number_pseudonym=BOB), op="c", ts=5))
    assert ops(back) == [("assert", "self", BOB)]


def test_a_replay_of_the_last_event_emits_the_same_facts_and_changes_nothing() -> None:
    state = decide(MARKET, None, event(enterprise(), ts=1)).state
    moved = event(enterprise(legal_rep_id_number_pseudonym=BOB), op="u", ts=2)
    applied = decide(MARKET, state, moved)
    replayed = decide(MARKET, applied.state, moved)
    assert replayed.verdict is Verdict.REPLAYED and not replayed.store
    assert replayed.state is applied.state and replayed.facts == applied.facts
    delete = event({"enterprise_id": "E1"}, op="d", ts=3)
    gone = decide(MARKET, applied.state, delete)
    assert decide(MARKET, gone.state, delete).facts == gone.facts


def test_the_state_survives_its_changelog_form() -> None:
    state = decide(MARKET, None, event(enterprise(), ts=1, seq="0/16B3748")).state
    assert state is not None
    moved = decide(MARKET, state, event(enterprise(legal_rep_id_number_pseudonym=BOB), ts=2))
    assert moved.state is not None
    for held in (state, moved.state._replace(deleted=True)):
        assert RowState.from_bytes(held.to_bytes()) == held
