from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.stages.rules.dates import parse_date
from streams.stages.rules.findings import RuleViolation


@pytest.mark.parametrize(
    "value",
    [
        "2021-03-04",
        "2021-3-4",
        "2021/3/4",
        "2021/03/04",
        "20210304",
        "2021年3月4日",
        "2021年03月04日",
        "2021.03.04",
        "2021-03-04 00:00:00",
        "2021-03-04T08:30:00.123",
    ],
)
def test_department_notations(value: str) -> None:
    assert parse_date(value, "d") == "2021-03-04"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("2021-02-29", "date.impossible"),
        ("2021/13/01", "date.impossible"),
        ("20210230", "date.impossible"),
        ("0000-01-01", "date.impossible"),
        ("2021-03/04", "date.unparseable"),
        ("03/04/2021", "date.unparseable"),
        ("next week", "date.unparseable"),
        ("2021-3", "date.unparseable"),
    ],
)
def test_rejections(value: str, code: str) -> None:
    result = parse_date(value, "d")
    assert isinstance(result, RuleViolation) and result.reason_code == code and result.fatal


def test_open_ended_validity_is_no_date() -> None:
    assert parse_date("长期", "expiry_date") is None


@given(st.dates(date(1, 1, 1), date(9999, 12, 31)))
def test_every_notation_of_a_day_gives_its_iso_form(day: date) -> None:
    y, m, d = day.year, day.month, day.day
    for text in (
        f"{y:04d}-{m:02d}-{d:02d}",
        f"{y:04d}/{m}/{d}",
        f"{y:04d}{m:02d}{d:02d}",
        f"{y:04d}年{m}月{d}日",
        f"{y:04d}.{m:02d}.{d:02d}",
    ):
        assert parse_date(text, "d") == day.isoformat()


@given(st.text(max_size=30))
def test_any_text_gives_a_date_or_a_violation(value: str) -> None:
    result = parse_date(value, "d")
    assert result is None or isinstance(result, str | RuleViolation)
