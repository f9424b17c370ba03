"""Merging facts into profiles: authority, ordering, deletes, links, revisions, state JSON,
retraction markers and the lateness horizon."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams.stages.enrich import profile
from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.findings import AUTHORITY_CONFLICT
from streams.stages.enrich.merge import Conflict, agrees
from streams.stages.enrich.order import order_key
from streams.stages.enrich.profile import ProfileState, Status, apply_fact
from streams.stages.enrich.row_table import RowTable
from streams.stages.enrich.theme import conflict_findings, render
from tests.unit.streams.stages.enrich.rows import (
    ACME,
    ALICE,
    BOB,
    enterprise,
    event,
    fact_for,
    fold,
    marriage,
    organization_licence,
    person_licence,
    resident,
)

HOUSEHOLD, CIVIL, LICENCE, MARKET = (
    "household.resident", "civil.marriage", "licence.licence", "market.enterprise")


def _alice(source: str, row: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return fact_for(source, event(row, **kw), ALICE)


def _values(state: ProfileState | None) -> dict[str, str]:
    view = state.view() if state is not None else None
    assert view is not None
    return view.values


def test_household_wins_birth_year_civil_wins_marital_status() -> None:
    home = _alice(HOUSEHOLD, resident(), ts=1)
    wedding = _alice(CIVIL, marriage(party_b_birth_date_year="1981"), ts=2)
    state = fold(home, wedding)
    values = _values(state)
    assert values["birth_year"] == "1980"  # household is the authority...
    assert values["marital_status"] == "married"  # ...civil is for marital status
    view = state.view()  # type: ignore[union-attr]
    assert view is not None and ("birth_year", "civil", "1981") in view.candidates
    # The order of arrival does not matter: the authority wins even when older.
    assert _values(fold(wedding, home))["birth_year"] == "1980"


def test_without_an_authoritative_value_the_latest_of_any_department_wins() -> None:
    state = fold(_alice(LICENCE, person_licence(), ts=1),
                 _alice(MARKET, enterprise(legal_rep_name_masked="张*华"), ts=2))
    assert _values(state)["name"] == "张*华"
    state = fold(_alice(HOUSEHOLD, resident(name_masked=None), ts=3), state=state)
    assert _values(state)["name"] == "张*华"  # a null states nothing


def test_conflict_is_reported_once_by_the_fact_that_introduces_it() -> None:
    state, applied = apply_fact(None, _alice(HOUSEHOLD, resident(), ts=1))
    assert applied.conflicts == ()
    wedding = _alice(CIVIL, marriage(party_b_birth_date_year="1981"), ts=2)
    state, applied = apply_fact(state, wedding)
    assert applied.conflicts == (Conflict("birth_year", "civil", CIVIL, "household"),)
    [finding] = conflict_findings(wedding, applied.conflicts, detected_ms=99)
    assert (finding["reason"], finding["field"], finding["dept"], finding["source"]) == (
        AUTHORITY_CONFLICT, "birth_year", "civil", CIVIL)
    assert finding["detail"] == "birth_year: civil disagrees with household"
    assert "1980" not in json.dumps(finding)
    # Redelivered, or other attributes changing later: not reported again.
    _, again = apply_fact(state, wedding)
    assert again.status is Status.DUPLICATE and again.conflicts == ()
    state, later = apply_fact(state, _alice(HOUSEHOLD, resident(phone_masked=None), ts=3))
    assert later.status is Status.UPDATED and later.conflicts == ()
    # A changed disagreement is reported again.
    _, changed = apply_fact(state, _alice(HOUSEHOLD, resident(birth_date_year="1982"),
                                          ts=4))
    assert [c.attribute for c in changed.conflicts] == ["birth_year"]


def test_a_masked_name_agrees_with_the_clear_one() -> None:
    register = fact_for(MARKET, event(enterprise(), ts=1), ACME)
    licence = fact_for(LICENCE, event(organization_licence(), ts=2), ACME)
    state, applied = apply_fact(apply_fact(None, register)[0], licence)
    assert applied.conflicts == () and _values(state)["name"] == "合肥某某科技有限公司"
    assert agrees("合肥某某科技有限公司", "合********司")
    assert not agrees("合肥某某科技有限公司", "芜********司") and not agrees("ab", "abc")


def test_older_update_is_ignored_and_redelivery_is_a_no_op() -> None:
    new = _alice(HOUSEHOLD, resident(status="迁出"), op="u", ts=5, seq="10")
    old = _alice(HOUSEHOLD, resident(status="正常"), op="u", ts=5, seq="9")
    state, applied = apply_fact(None, new)
    assert applied.status is Status.UPDATED and state is not None and state.revision == 1
    same, stale = apply_fact(state, old)  # "9" < "10" numerically, not as text
    assert stale.status is Status.STALE and same is state
    same, dup = apply_fact(state, new)
    assert dup.status is Status.DUPLICATE and same is state and not dup.store
    assert _values(state)["household_status"] == "迁出" and state.revision == 1
    assert order_key(1, "9") < order_key(1, "10") < order_key(2, None)


def test_restating_the_same_values_later_is_a_revision_with_the_newer_time() -> None:
    # The emitted profile must depend on the state only, not on how facts interleaved.
    state = fold(_alice(HOUSEHOLD, resident(), ts=1))
    state, applied = apply_fact(state, _alice(HOUSEHOLD, resident(registered_date="x"), op="u",
                                              ts=2))
    assert applied.status is Status.UPDATED and applied.store and applied.emit
    assert state is not None and state.revision == 2
    assert render("individual", "k", state, 0)["source_ts_ms"] == 2


def test_retract_deletes_and_a_late_older_assert_does_not_resurrect() -> None:
    created = _alice(HOUSEHOLD, resident(), ts=1)
    updated = _alice(HOUSEHOLD, resident(status="迁出"), op="u", ts=2)
    deleted = _alice(HOUSEHOLD, resident(), op="d", ts=3)
    state, applied = apply_fact(fold(created), deleted)
    assert applied.status is Status.DELETED and applied.emit
    assert state is not None and state.deleted and render("individual", ALICE, state, 0) is None
    state, late = apply_fact(state, updated)
    assert late.status is Status.STALE and state is not None and state.deleted
    # A newer assert (the record re-created) does bring it back, with a higher version.
    state, back = apply_fact(state, _alice(HOUSEHOLD, resident(), op="c", ts=4))
    assert back.status is Status.UPDATED and state is not None and state.revision == 3


def test_delete_before_create_keeps_the_entity_deleted() -> None:
    state, applied = apply_fact(None, _alice(HOUSEHOLD, resident(), op="d", ts=3))
    assert applied.status is Status.UNCHANGED and state is not None and state.deleted
    state, late = apply_fact(state, _alice(HOUSEHOLD, resident(), ts=1))
    assert late.status is Status.STALE


def test_deleting_one_of_two_contributions_keeps_the_others_values() -> None:
    state = fold(_alice(HOUSEHOLD, resident(name_masked="张*明"), ts=1),
                 _alice(LICENCE, person_licence(holder_name_masked="张*华"), ts=2))
    assert _values(state)["name"] == "张*明"
    state, applied = apply_fact(state, _alice(HOUSEHOLD, resident(), op="d", ts=3))
    assert applied.status is Status.UPDATED
    record = render("individual", ALICE, state, 0)
    assert record is not None and record["name"] == "张*华" and record["sex"] is None
    assert record["sources"] == ["licence"] and record["candidates"][0]["dept"] == "licence"


def test_a_moved_legal_rep_loses_the_enterprise_link() -> None:
    table = RowTable(FactExtractor(), MARKET, {}, reconcile_snapshots=False)
    first = table.apply(event(enterprise(), ts=1)).facts
    moved = table.apply(
        event(enterprise(legal_rep_id_number_pseudonym=BOB), op="u", ts=2)).facts
    alice = [f for f in [*first, *moved] if f["entity_key"] == ALICE]
    state = fold(_alice(HOUSEHOLD, resident(), ts=0), *alice)
    record = render("individual", ALICE, state, 0)
    assert record is not None and record["links"] == [] and record["sources"] == ["household"]


def test_links_of_a_person_an_organization_and_an_event() -> None:
    person = fold(_alice(HOUSEHOLD, resident(), ts=1), _alice(MARKET, enterprise(), ts=2),
                  _alice(LICENCE, person_licence(), ts=3), _alice(CIVIL, marriage(), ts=4))
    assert person is not None and person.view().links == (  # type: ignore[union-attr]
        ("enterprise", "organization", ACME),
        ("event", "event", "civil.marriage:M1"),
        ("licence", "thing", "licence:教师资格证:JS1"),
    )
    org = fold(fact_for(MARKET, event(enterprise(), ts=1), ACME),
               fact_for(LICENCE, event(organization_licence(), ts=2), ACME))
    assert org is not None and org.view().links == (  # type: ignore[union-attr]
        ("legal_rep", "individual", ALICE), ("licence", "thing", "licence:营业执照:YY2"))
    registration = fold(fact_for(CIVIL, event(marriage(), ts=1), "civil.marriage:M1"))
    assert registration is not None and registration.view().links == (  # type: ignore[union-attr]
        ("participant", "individual", ALICE), ("participant", "individual", BOB))


def test_state_json_round_trip() -> None:
    state = fold(_alice(HOUSEHOLD, resident(), ts=1), _alice(CIVIL, marriage(), ts=2),
                 _alice(MARKET, enterprise(), op="d", ts=3, seq=None))
    assert state is not None
    data = json.loads(json.dumps(state.to_json(), ensure_ascii=False))
    back = ProfileState.from_json(data)
    assert back.revision == state.revision and back.contributions == state.contributions
    assert back.view() == state.view()
    assert render("individual", ALICE, back, 7) == render("individual", ALICE, state, 7)
    # The restored state goes on rejecting what the original would.
    _, applied = apply_fact(back, _alice(MARKET, enterprise(), ts=2))
    assert applied.status is Status.STALE


def test_a_retraction_makes_the_profile_as_fresh_as_the_delete() -> None:
    # Alice stays (household), her marriage registration is deleted later: the profile she
    # is left with changed at the delete's time, which is when its latency counts from.
    home = _alice(HOUSEHOLD, resident(), ts=1)
    wedding = _alice(CIVIL, marriage(), ts=2)
    state = fold(home, wedding)
    divorce = _alice(CIVIL, marriage(), op="d", ts=7, seq="2")
    after, applied = apply_fact(state, divorce)
    assert applied.status is Status.UPDATED and after is not None
    assert render("individual", "k", after, 0)["source_ts_ms"] == 7


HOUR = 3_600_000


def test_apply_fact_changes_the_state_it_is_given_and_copy_keeps_one_apart() -> None:
    state = fold(_alice(HOUSEHOLD, resident(), ts=1))
    assert state is not None
    kept = state.copy()
    after, applied = apply_fact(state, _alice(CIVIL, marriage(), ts=2))
    assert after is state and applied.status is Status.UPDATED and state.revision == 2
    assert len(state.contributions) == 2 and len(kept.contributions) == 1
    assert kept.revision == 1 and "marital_status" not in _values(kept)


@pytest.mark.parametrize("fact", [
    _alice(HOUSEHOLD, resident(status="迁出"), op="u", ts=2),  # replaces a contribution
    _alice(CIVIL, marriage(), ts=2),  # adds one
])
def test_a_fact_the_merge_cannot_take_leaves_the_state_as_it_was(
    fact: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = fold(_alice(HOUSEHOLD, resident(), ts=1))
    assert state is not None
    before = (dict(state.contributions), state.revision, state.view(), state.newest_ts)

    def merge(category: str, contributions: Any) -> Any:
        raise ValueError("no such district")

    monkeypatch.setattr(profile, "merge", merge)
    with pytest.raises(ValueError):
        apply_fact(state, fact)
    assert (state.contributions, state.revision, state.view(), state.newest_ts) == before


def test_retraction_markers_older_than_the_horizon_are_dropped() -> None:
    # Alice's marriage registration is deleted at 2 h; the household keeps changing.
    state = fold(_alice(HOUSEHOLD, resident(), ts=1), _alice(CIVIL, marriage(), ts=HOUR),
                 _alice(CIVIL, marriage(), op="d", ts=2 * HOUR))
    assert state is not None
    marker = (CIVIL, *next(k[1:] for k in state.contributions if k[0] == CIVIL))
    assert state.contributions[marker].retracted

    def later(hours: int) -> dict[str, Any]:
        return _alice(HOUSEHOLD, resident(registered_date=f"r{hours}"), op="u",
                      ts=hours * HOUR)

    within = state.copy()
    within, _ = apply_fact(within, later(12), horizon_ms=10 * HOUR)  # 10 h after the delete
    assert marker in within.contributions
    rendered = render("individual", ALICE, within, 0)
    state, applied = apply_fact(state, later(13), horizon_ms=10 * HOUR)  # 11 h after it
    assert applied.status is Status.UPDATED and state is not None
    assert marker not in state.contributions and len(state.contributions) == 1
    # Dropping it changed nothing of the profile but what the restatement itself changed.
    changed = {"registered_date", "source_ts_ms", "version"}
    record = render("individual", ALICE, state, 0)
    assert record is not None and rendered is not None
    assert {k: v for k, v in record.items() if k not in changed} == {
        k: v for k, v in rendered.items() if k not in changed}


def test_order_is_judged_as_before_within_the_horizon_and_not_at_all_beyond_it() -> None:
    created = _alice(CIVIL, marriage(), ts=HOUR)
    deleted = _alice(CIVIL, marriage(), op="d", ts=2 * HOUR)
    state = fold(_alice(HOUSEHOLD, resident(), ts=1), created, deleted)
    # The household moves on 3 h later: the marker is within a 10 h horizon and stays.
    state, _ = apply_fact(state, _alice(HOUSEHOLD, resident(status="迁出"), op="u",
                                        ts=5 * HOUR), horizon_ms=10 * HOUR)
    same, late = apply_fact(state, created, horizon_ms=10 * HOUR)
    assert late.status is Status.STALE and same is state
    # 20 h later the marker is gone: the late assert can no longer be judged, so it is not
    # applied (the processor dead-letters it) rather than bringing the marriage back.
    state, _ = apply_fact(state, _alice(HOUSEHOLD, resident(status="正常"), op="u",
                                        ts=22 * HOUR), horizon_ms=10 * HOUR)
    assert state is not None and len(state.contributions) == 1
    revision = state.revision
    same, beyond = apply_fact(state, created, horizon_ms=10 * HOUR)
    assert beyond.status is Status.BEYOND_HORIZON and not beyond.store and not beyond.emit
    assert same is state and state.revision == revision and len(state.contributions) == 1
    # A new record within the horizon is taken as ever, and so is a newer change of a held one.
    _, new = apply_fact(state, _alice(CIVIL, marriage(), op="c", ts=13 * HOUR),
                        horizon_ms=10 * HOUR)
    assert new.status is Status.UPDATED


def test_a_pruned_state_round_trips_and_keeps_judging_the_same_way() -> None:
    state = fold(_alice(HOUSEHOLD, resident(), ts=1), _alice(CIVIL, marriage(), ts=HOUR),
                 _alice(MARKET, enterprise(), op="d", ts=2 * HOUR),
                 _alice(CIVIL, marriage(), op="d", ts=30 * HOUR))
    state, _ = apply_fact(state, _alice(HOUSEHOLD, resident(status="迁出"), op="u",
                                        ts=40 * HOUR), horizon_ms=24 * HOUR)
    assert state is not None
    assert sorted(k[0] for k in state.contributions) == [CIVIL, HOUSEHOLD]  # market's went
    back = ProfileState.from_bytes(state.to_bytes())
    assert back.contributions == state.contributions and back.newest_ts == 40 * HOUR
    assert render("individual", ALICE, back, 7) == render("individual", ALICE, state, 7)
    late_market = _alice(MARKET, enterprise(), ts=HOUR)
    assert apply_fact(back, late_market, 24 * HOUR)[1].status is Status.BEYOND_HORIZON
    late_civil = _alice(CIVIL, marriage(), ts=20 * HOUR)
    assert apply_fact(back, late_civil, 24 * HOUR)[1].status is Status.STALE
