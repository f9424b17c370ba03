"""GB 11643 citizen ID numbers: the standard's examples and generated numbers."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from topics.codes.citizen_id import (
    MAX_SEQUENCE,
    CitizenIdError,
    CitizenIdProblem,
    citizen_id_check_char,
    is_valid_citizen_id,
    make_citizen_id,
    parse_citizen_id,
    upgrade_legacy_id,
)
from topics.codes.divisions import division_table
from topics.codes.sex import SexCode

WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]  # ISO 7064 MOD 11-2, written out again here


def independent_check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


@pytest.mark.parametrize(
    ("number", "division", "birth", "sex"),
    [
        ("11010519491231002X", "110105", dt.date(1949, 12, 31), SexCode.FEMALE),  # GB 11643
        ("440524188001010014", "440524", dt.date(1880, 1, 1), SexCode.MALE),  # GB 11643
        ("360426199101010071", "360426", dt.date(1991, 1, 1), SexCode.MALE),
    ],
)
def test_official_examples_parse(
    number: str, division: str, birth: dt.date, sex: SexCode
) -> None:
    parsed = parse_citizen_id(number)
    assert (parsed.division_code, parsed.birth_date, parsed.sex) == (division, birth, sex)
    assert citizen_id_check_char(number[:17]) == number[17]


def test_lower_case_x_is_accepted() -> None:
    assert parse_citizen_id("11010519491231002x").number == "11010519491231002X"


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("110105194912310021", CitizenIdProblem.CHECK_CHAR),
        ("11010519491231002", CitizenIdProblem.LENGTH),
        ("１１０１０５１９４９１２３１００２Ｘ", CitizenIdProblem.FORMAT),  # full width
        ("1101051949123100AX", CitizenIdProblem.FORMAT),
        ("11010519490230002" + independent_check_char("11010519490230002"),
         CitizenIdProblem.BIRTH_DATE),
        ("11010519491331002" + independent_check_char("11010519491331002"),
         CitizenIdProblem.BIRTH_DATE),
    ],
)
def test_invalid_numbers_name_their_problem(number: str, problem: CitizenIdProblem) -> None:
    with pytest.raises(CitizenIdError) as caught:
        parse_citizen_id(number)
    assert caught.value.problem is problem
    assert not is_valid_citizen_id(number)


def test_legacy_15_digit_number_is_upgraded() -> None:
    assert upgrade_legacy_id("110105491231002") == "11010519491231002X"


@pytest.mark.parametrize(
    ("number", "problem"),
    [("11010549123100", CitizenIdProblem.LENGTH), ("110105491331002", CitizenIdProblem.BIRTH_DATE),
     ("11010549123100A", CitizenIdProblem.FORMAT)],
)
def test_bad_legacy_numbers_are_refused(number: str, problem: CitizenIdProblem) -> None:
    with pytest.raises(CitizenIdError) as caught:
        upgrade_legacy_id(number)
    assert caught.value.problem is problem


def test_make_refuses_what_a_number_cannot_hold() -> None:
    with pytest.raises(ValueError):
        make_citizen_id("34010", dt.date(1990, 1, 1), 0, SexCode.MALE)
    with pytest.raises(ValueError):
        make_citizen_id("340104", dt.date(1990, 1, 1), MAX_SEQUENCE + 1, SexCode.MALE)
    with pytest.raises(ValueError):
        make_citizen_id("340104", dt.date(1990, 1, 1), 0, SexCode.UNSPECIFIED)


divisions = st.sampled_from(division_table().current_county_codes())
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2030, 12, 31))
sequences = st.integers(min_value=0, max_value=MAX_SEQUENCE)
sexes = st.sampled_from([SexCode.MALE, SexCode.FEMALE])


@given(divisions, births, sequences, sexes)
def test_made_numbers_pass_an_independent_check(
    division: str, birth: dt.date, sequence: int, sex: SexCode
) -> None:
    number = make_citizen_id(division, birth, sequence, sex)
    assert len(number) == 18
    assert number[17] == independent_check_char(number[:17])
    assert ric.calc_check_digit(number) == number[17]
    assert number[:6] == division
    assert number[6:14] == birth.strftime("%Y%m%d")
    assert int(number[16]) % 2 == (1 if sex is SexCode.MALE else 0)


@given(divisions, births, sequences, sexes)
def test_made_numbers_parse_back(
    division: str, birth: dt.date, sequence: int, sex: SexCode
) -> None:
    parsed = parse_citizen_id(make_citizen_id(division, birth, sequence, sex))
    assert (parsed.division_code, parsed.birth_date, parsed.sex) == (division, birth, sex)


@given(divisions, births, sequences, sexes, st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_caught(
    division: str, birth: dt.date, sequence: int, sex: SexCode, position: int, shift: int
) -> None:
    number = make_citizen_id(division, birth, sequence, sex)
    digit = str((int(number[position]) + shift) % 10)
    # MOD 11-2 catches every single-digit error, whatever the digit means.
    assert not is_valid_citizen_id(number[:position] + digit + number[position + 1:])


@given(births.filter(lambda d: d.year < 2000), sequences, sexes)
def test_upgrade_agrees_with_make(birth: dt.date, sequence: int, sex: SexCode) -> None:
    number = make_citizen_id("340104", birth, sequence, sex)
    legacy = number[:6] + number[8:17]
    assert upgrade_legacy_id(legacy) == number
