"""Fact extraction: which entities each source's std row states, and how."""

from __future__ import annotations

from typing import Any

import pytest

from streams.stages.enrich.fact_map import Const
from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.findings import MISSING_KEY
from streams.stages.enrich.plan import FactMapError, as_text, compile_value
from streams.stages.enrich.row_table import RowTable
from streams.stages.rules.findings import RuleViolation
from tests.unit.streams.stages.enrich.rows import (
    ACME,
    ALICE,
    BOB,
    enterprise,
    event,
    facts,
    marriage,
    organization_licence,
    person_licence,
    resident,
)


def _shape(out: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(f["category"], f["entity_type"], f["role"], f["entity_key"]) for f in out]


def test_resident_states_one_person() -> None:
    [fact] = facts("household.resident", event(resident(), ts=5, seq="7", event_id="e1"))
    assert _shape([fact]) == [("individual", "person", "self", ALICE)]
    assert fact["fact_id"] == f"e1/{ALICE}" and fact["op"] == "assert"
    assert (fact["source"], fact["dept"], fact["record_key"]) == ("household.resident",
                                                                  "household", "R1")
    assert (fact["sequence"], fact["source_ts_ms"]) == ("7", 5)
    assert fact["attributes"] == {
        "id_masked": "340104***********4", "name": "张*明", "sex": "1",
        "birth_year": "1980", "ethnicity": "汉族", "division_code": "340104",
        "district": "安徽省合肥市蜀山区", "phone_masked": "138****5678",
        "household_status": "正常",
    }
    assert fact["links"] == []


def test_enterprise_states_organization_and_legal_rep() -> None:
    org, rep = facts("market.enterprise", event(enterprise()))
    assert _shape([org, rep]) == [("organization", "enterprise", "self", ACME),
                                  ("individual", "person", "legal_rep", ALICE)]
    assert org["attributes"]["registered_capital"] == "100"
    assert org["attributes"]["legal_rep_key"] == ALICE
    assert org["links"] == [{"relation": "legal_rep", "category": "individual", "key": ALICE}]
    assert rep["attributes"] == {"id_masked": "340104***********4", "name": "张*明"}
    assert rep["links"] == [{"relation": "enterprise", "category": "organization", "key": ACME}]
    assert org["record_key"] == rep["record_key"] == "E1"


def test_licence_of_a_person() -> None:
    thing, holder = facts("licence.licence", event(person_licence()))
    key = "licence:教师资格证:JS1"
    assert _shape([thing, holder]) == [("thing", "licence", "self", key),
                                       ("individual", "person", "holder", ALICE)]
    assert thing["attributes"]["thing_type"] == "licence"
    assert thing["attributes"]["holder_key"] == ALICE
    assert thing["attributes"]["holder_name"] == "张*明"
    assert thing["links"] == [{"relation": "holder", "category": "individual", "key": ALICE}]
    assert holder["links"] == [{"relation": "licence", "category": "thing", "key": key}]


def test_licence_of_an_organization() -> None:
    thing, holder = facts("licence.licence", event(organization_licence()))
    assert _shape([thing, holder]) == [("thing", "licence", "self", "licence:营业执照:YY2"),
                                       ("organization", "organization", "holder", ACME)]
    assert thing["attributes"]["holder_key"] == ACME
    assert thing["links"] == [{"relation": "holder", "category": "organization", "key": ACME}]
    assert holder["attributes"] == {"name": "合********司"}


@pytest.mark.parametrize(("kind", "status"), [("结婚", "married"), ("离婚", "divorced")])
def test_marriage_states_event_and_both_parties(kind: str, status: str) -> None:
    registration, a, b = facts("civil.marriage", event(marriage(kind=kind)))
    key = "civil.marriage:M1"
    assert _shape([registration, a, b]) == [("event", "marriage", "self", key),
                                            ("individual", "person", "party_a", BOB),
                                            ("individual", "person", "party_b", ALICE)]
    assert registration["attributes"]["event_type"] == kind
    assert registration["links"] == [
        {"relation": "participant", "category": "individual", "key": BOB},
        {"relation": "participant", "category": "individual", "key": ALICE},
    ]
    assert a["attributes"] == {"id_masked": "340104***********2", "name": "李*",
                               "birth_year": "1979", "marital_status": status}
    assert b["links"] == [{"relation": "event", "category": "event", "key": key}]


def test_delete_retracts_every_entity_without_statements() -> None:
    out = facts("market.enterprise", event(enterprise(), op="d"))
    assert _shape(out) == [("organization", "enterprise", "self", ACME),
                           ("individual", "person", "legal_rep", ALICE)]
    assert all(f["op"] == "retract" and f["attributes"] == {} and f["links"] == []
               for f in out)


def test_missing_key_skips_the_entity_and_notes_it() -> None:
    notes: list[RuleViolation] = []
    row = person_licence(holder_id_number_pseudonym=None)
    out = FactExtractor().extract("licence.licence", event(row), notes)
    assert _shape(out) == [("thing", "licence", "self", "licence:教师资格证:JS1")]
    assert out[0]["attributes"]["holder_key"] is None and out[0]["links"] == []
    assert [(n.reason_code, n.field) for n in notes] == [
        (MISSING_KEY, "holder_id_number_pseudonym")]


def test_debezium_event_without_event_id_gets_a_stable_one() -> None:
    envelope = event(resident(), ts=9, seq="3", event_id="")
    [first] = facts("household.resident", envelope)
    [again] = facts("household.resident", envelope)
    assert first["event_id"] == again["event_id"] == "household.resident:R1:9:3"


def test_tombstone_and_imageless_events_state_nothing() -> None:
    extractor = FactExtractor()
    assert extractor.extract("household.resident", None) == []
    assert extractor.extract("household.resident", {**event(resident()), "after": None}) == []


def test_holder_kind_change_retracts_the_other_category() -> None:
    table = RowTable(FactExtractor(), "licence.licence", {}, reconcile_snapshots=False)
    table.apply(event(person_licence()))
    row = person_licence(holder_kind="organization", holder_id_number_pseudonym=None,
                         holder_id_number_masked=None, holder_uscc=ACME)
    out = table.apply(event(row, op="u", ts=2_000)).facts
    assert [(f["op"], f["category"], f["entity_key"]) for f in out][1:] == [
        ("assert", "organization", ACME), ("retract", "individual", ALICE)]


def test_the_map_is_checked_against_the_schemas() -> None:
    with pytest.raises(FactMapError):
        compile_value("no_such_field", {"a": "string"}, "test")
    assert compile_value(Const("x"), {}, "test")({}) == "x"
    assert [as_text(v) for v in (None, 100.0, 12.5, 3, "s")] == [None, "100", "12.5", "3", "s"]
