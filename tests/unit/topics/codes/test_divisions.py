"""The shipped GB/T 2260 table: statuses, names, county lists, and that it matches its source."""

from __future__ import annotations

import pytest

from topics.codes.build_gb2260 import COLUMNS, build_rows, latest
from topics.codes.divisions import (
    TABLE_PATH,
    DivisionLevel,
    DivisionStatus,
    division_table,
)


def test_current_district_is_found_with_its_latest_name() -> None:
    division = division_table().lookup("340104")
    assert division is not None
    assert (division.name, division.province, division.prefecture) == ("蜀山区", "安徽省", "合肥市")
    assert division.is_current
    assert division.level is DivisionLevel.COUNTY


@pytest.mark.parametrize(
    ("code", "name"),
    [("110103", "崇文区"), ("110104", "宣武区"), ("340203", "弋江区"), ("340120", "市区")],
)
def test_retired_codes_are_flagged(code: str, name: str) -> None:
    division = division_table().lookup(code)
    assert division is not None
    assert division.name == name
    assert division.status is DivisionStatus.RETIRED
    assert not division.is_current


def test_unknown_code_is_none() -> None:
    assert division_table().lookup("349999") is None
    assert division_table().lookup("") is None


def test_current_county_codes_of_a_prefecture() -> None:
    assert division_table().current_county_codes("3401") == (
        "340102", "340103", "340104", "340111", "340121", "340122", "340123", "340124", "340181",
    )


def test_current_county_codes_leave_out_groupings_prefectures_and_retired() -> None:
    table = division_table()
    codes = table.current_county_codes()
    assert len(codes) > 2800
    for code in codes:
        division = table.lookup(code)
        assert division is not None and division.is_current
        assert not code.endswith("00")
        assert division.name != "市辖区"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("340104", "安徽省合肥市蜀山区"),
        ("110101", "北京市东城区"),
        ("500101", "重庆市万州区"),
        ("340100", "安徽省合肥市"),
        ("340000", "安徽省"),
        ("110103", "北京市崇文区"),
    ],
)
def test_district_name(code: str, name: str) -> None:
    assert division_table().district_name(code) == name


def test_district_name_of_unknown_code_is_none() -> None:
    assert division_table().district_name("349999") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("东城区", ("东城区", True)),
        ("[1986-]房山区", ("房山区", True)),
        ("[-2010]崇文区", ("崇文区", False)),
        ("[1983-2001]西市区,[2002-]蜀山区", ("蜀山区", True)),
        ("[1983-2004]马塘区,[2005-2020]弋江区", ("弋江区", False)),
    ],
)
def test_validity_periods_are_read_from_the_last_one(
    value: str, expected: tuple[str, bool]
) -> None:
    assert latest(value) == expected


def test_shipped_table_matches_its_source() -> None:
    # Fails after a python-stdnum upgrade changed the data: rebuild with build_gb2260.
    lines = TABLE_PATH.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == list(COLUMNS)
    assert [tuple(line.split("\t")) for line in lines[1:]] == build_rows()
