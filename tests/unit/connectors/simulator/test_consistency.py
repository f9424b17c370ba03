"""Rows agree with each other and with the standards, as a consumer replaying the stream sees
them (defective events are replayed as the department meant them: their clean_after)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import phonenumbers
import pytest

from connectors.simulator import DepartmentSimulator, SimulatedEvent
from connectors.simulator.formats import parse_department_date
from topics.codes.citizen_id import parse_citizen_id
from topics.codes.divisions import division_table
from topics.codes.sex import SexCode, sex_code
from topics.codes.uscc import is_valid_uscc

Row = dict[str, Any]


def intended(event: SimulatedEvent) -> Row | None:
    return event.clean_after if event.clean_after is not None else event.after


def years_between(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def valid_phone(text: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(text, "CN"))


class Replay:
    """The four tables as a subscriber rebuilds them from the events, checked as it goes."""

    def __init__(self, districts: tuple[str, ...]) -> None:
        self.districts = districts
        self.residents: dict[str, Row] = {}  # by id_number
        self.enterprises: dict[str, Row] = {}  # by uscc
        self.rows: dict[tuple[str, str], Row] = {}

    def apply(self, event: SimulatedEvent) -> None:
        row = intended(event)
        key = (event.source, next(iter(event.key.values())))
        if row is None:
            removed = self.rows.pop(key)
            if event.source == "market.enterprise":
                del self.enterprises[removed["uscc"]]
            assert event.source != "household.resident", "residents are never deleted"
            return
        getattr(self, "check_" + event.source.split(".")[1])(row)
        self.rows[key] = row
        if event.source == "household.resident":
            self.residents[row["id_number"]] = row
        elif event.source == "market.enterprise":
            self.enterprises[row["uscc"]] = row

    def check_resident(self, row: Row) -> None:
        parts = parse_citizen_id(row["id_number"])
        assert parts.birth_date == parse_department_date(row["birth_date"])
        assert parts.sex is sex_code(row["sex"])
        assert parts.division_code == row["division_code"]
        assert row["division_code"] in self.districts
        district = division_table().lookup(row["division_code"])
        assert district is not None and district.name in row["address"]
        assert row["phone"] is None or valid_phone(row["phone"])
        assert row["status"] in ("正常", "迁出", "死亡")
        assert parse_department_date(row["registered_date"]) >= parts.birth_date

    def check_enterprise(self, row: Row) -> None:
        assert is_valid_uscc(row["uscc"])
        assert row["uscc"][2:8] == row["division_code"]
        representative = self.residents[row["legal_rep_id_number"]]
        assert representative["name"] == row["legal_rep_name"]
        assert valid_phone(row["contact_phone"])
        parse_department_date(row["established_date"])

    def check_licence(self, row: Row) -> None:
        if row["holder_kind"] == "person":
            assert row["holder_uscc"] is None
            assert self.residents[row["holder_id_number"]]["name"] == row["holder_name"]
        else:
            assert row["holder_kind"] == "organization" and row["holder_id_number"] is None
            assert self.enterprises[row["holder_uscc"]]["name"] == row["holder_name"]
        issued = parse_department_date(row["issue_date"])
        if row["expiry_date"] is not None:
            assert parse_department_date(row["expiry_date"]) > issued

    def check_marriage(self, row: Row) -> None:
        registered = parse_department_date(row["registered_date"])
        sexes = set()
        for party in ("party_a", "party_b"):
            resident = self.residents[row[f"{party}_id_number"]]
            assert resident["name"] == row[f"{party}_name"]
            parts = parse_citizen_id(row[f"{party}_id_number"])
            assert parse_department_date(row[f"{party}_birth_date"]) == parts.birth_date
            minimum = 22 if parts.sex is SexCode.MALE else 20
            assert years_between(parts.birth_date, registered) >= minimum
            sexes.add(parts.sex)
        assert sexes == {SexCode.MALE, SexCode.FEMALE}
        assert row["kind"] in ("结婚", "离婚")


def test_replayed_rows_agree(run: list[SimulatedEvent]) -> None:
    replay = Replay(DepartmentSimulator(1, population=10).districts)
    for event in run:
        replay.apply(event)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_replayed_rows_agree_for_other_seeds(seed: int) -> None:
    simulator = DepartmentSimulator(seed, defect_rate=0.0, population=60)
    replay = Replay(simulator.districts)
    for event in simulator.events(3000):
        assert event.defect is None
        replay.apply(event)


def test_demo_districts_are_the_current_ones_of_two_prefectures() -> None:
    districts = DepartmentSimulator(1, population=10).districts
    table = division_table()
    assert districts == table.current_county_codes("3401") + table.current_county_codes("3402")


def test_departments_spell_values_their_own_ways(run: list[SimulatedEvent]) -> None:
    residents = [intended(e) for e in run if e.source == "household.resident"]
    assert {r["sex"] for r in residents if r} == {"男", "女", "1", "2", "M", "F"}
    dates = [r["birth_date"] for r in residents if r]
    styles = Counter(
        "chinese" if "年" in d else "slash" if "/" in d else "iso" if "-" in d else "compact"
        for d in dates
    )
    assert set(styles) == {"chinese", "slash", "iso", "compact"}
    assert any(r["address"].startswith("安徽省") for r in residents if r)
    assert any(not r["address"].startswith("安徽省") for r in residents if r)
