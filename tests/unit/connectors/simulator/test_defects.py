"""Defects come at the configured rate and each one breaks what its label says."""

from __future__ import annotations

import unicodedata
from collections import Counter

import phonenumbers
import pytest

from connectors.simulator import DefectKind, DepartmentSimulator, SimulatedEvent
from connectors.simulator.formats import parse_department_date
from topics.codes.citizen_id import CitizenIdError, CitizenIdProblem, parse_citizen_id
from topics.codes.divisions import division_table
from topics.codes.uscc import is_valid_uscc
from topics.schemas import row_spec


def defective(run: list[SimulatedEvent]) -> list[SimulatedEvent]:
    return [e for e in run if e.defect is not None]


def test_defect_rate_is_roughly_the_configured_one(
    run: list[SimulatedEvent], run_defect_rate: float
) -> None:
    candidates = [e for e in run if e.op != "d"]
    share = len(defective(run)) / len(candidates)
    assert run_defect_rate * 0.75 < share < run_defect_rate * 1.25


def test_no_defects_when_the_rate_is_zero() -> None:
    events = DepartmentSimulator(11, defect_rate=0.0, population=50).events(2000)
    assert all(e.defect is None and e.clean_after is None for e in events)


def test_deletes_are_never_defective(run: list[SimulatedEvent]) -> None:
    assert all(e.defect is None for e in run if e.op == "d")


def test_every_kind_occurs(run: list[SimulatedEvent]) -> None:
    assert set(Counter(e.defect for e in defective(run))) == set(DefectKind)


def test_a_defect_changes_only_its_field(run: list[SimulatedEvent]) -> None:
    for event in defective(run):
        assert event.after is not None and event.clean_after is not None
        assert event.defect_field is not None
        changed = {k for k in event.after if event.after[k] != event.clean_after[k]}
        assert changed == {event.defect_field}


def id_problem(number: str) -> CitizenIdProblem | None:
    try:
        parse_citizen_id(number)
    except CitizenIdError as error:
        return error.problem
    return None


def phone_ok(text: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, "CN"))
    except phonenumbers.NumberParseException:
        return False


@pytest.mark.parametrize("kind", list(DefectKind))
def test_each_defect_breaks_what_it_says(run: list[SimulatedEvent], kind: DefectKind) -> None:
    events = [e for e in defective(run) if e.defect is kind]
    assert events
    for event in events:
        assert event.after is not None and event.clean_after is not None
        name = event.defect_field
        assert name is not None
        value, clean = event.after[name], event.clean_after[name]
        if kind is DefectKind.BAD_ID_CHECK_CHAR:
            assert id_problem(value) is CitizenIdProblem.CHECK_CHAR
            assert id_problem(clean) is None
        elif kind is DefectKind.INVALID_ID_BIRTH_DATE:
            assert id_problem(value) is CitizenIdProblem.BIRTH_DATE
        elif kind is DefectKind.FULL_WIDTH:
            assert not value.isascii()
            assert unicodedata.normalize("NFKC", value) == clean
        elif kind is DefectKind.MISSING_REQUIRED:
            assert value is None and clean is not None
            assert row_spec(event.source).field(name).required
        elif kind is DefectKind.BIRTH_DATE_MISMATCH:
            id_number = event.after[name.replace("birth_date", "id_number")]
            assert parse_department_date(value) != parse_citizen_id(id_number).birth_date
        elif kind is DefectKind.UNKNOWN_DIVISION:
            assert division_table().lookup(value) is None
        elif kind is DefectKind.RETIRED_DIVISION:
            division = division_table().lookup(value)
            assert division is not None and not division.is_current
        elif kind is DefectKind.BAD_USCC_CHECK_CHAR:
            assert not is_valid_uscc(value) and is_valid_uscc(clean)
        elif kind is DefectKind.MALFORMED_PHONE:
            assert not phone_ok(value) and phone_ok(clean)
        elif kind is DefectKind.EXPIRY_BEFORE_ISSUE:
            issued = parse_department_date(event.after["issue_date"])
            assert parse_department_date(value) < issued
