"""Department spellings of dates, sex and full-width input."""

from __future__ import annotations

import datetime as dt
import unicodedata
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.simulator.formats import (
    department_date,
    department_sex,
    full_width,
    parse_department_date,
)
from topics.codes.sex import SexCode, sex_code


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)), st.integers())
def test_every_date_spelling_reads_back(day: dt.date, seed: int) -> None:
    assert parse_department_date(department_date(day, Random(seed))) == day


def test_all_four_date_spellings_occur() -> None:
    rng = Random(1)
    spellings = {department_date(dt.date(2021, 3, 4), rng) for _ in range(200)}
    assert spellings == {"2021-03-04", "2021/3/4", "20210304", "2021年3月4日"}


@pytest.mark.parametrize("text", ["2021-3-4", "21/3/4", "2021.03.04", "2021年03月04", ""])
def test_other_spellings_are_not_read(text: str) -> None:
    with pytest.raises(ValueError):
        parse_department_date(text)


@pytest.mark.parametrize("sex", [SexCode.MALE, SexCode.FEMALE])
def test_sex_spellings_map_back_to_the_code(sex: SexCode) -> None:
    rng = Random(2)
    spellings = {department_sex(sex, rng) for _ in range(100)}
    assert len(spellings) == 3
    assert {sex_code(s) for s in spellings} == {sex}


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E)))
def test_full_width_is_undone_by_nfkc(text: str) -> None:
    wide = full_width(text)
    assert not text or not wide.isascii()
    assert unicodedata.normalize("NFKC", wide) == text
