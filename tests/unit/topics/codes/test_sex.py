"""GB/T 2261.1 sex codes from department spellings."""

from __future__ import annotations

import pytest

from topics.codes.sex import SexCode, sex_code


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("男", SexCode.MALE), ("男性", SexCode.MALE), ("1", SexCode.MALE), ("M", SexCode.MALE),
        ("m", SexCode.MALE), ("male", SexCode.MALE), ("Male", SexCode.MALE), (" 男 ", SexCode.MALE),
        ("女", SexCode.FEMALE), ("女性", SexCode.FEMALE), ("2", SexCode.FEMALE),
        ("F", SexCode.FEMALE), ("female", SexCode.FEMALE), ("FEMALE", SexCode.FEMALE),
        ("0", SexCode.UNKNOWN), ("未知的性别", SexCode.UNKNOWN),
        ("9", SexCode.UNSPECIFIED), ("未说明的性别", SexCode.UNSPECIFIED),
    ],
)
def test_department_spellings_map_to_the_standard_code(spelling: str, code: SexCode) -> None:
    assert sex_code(spelling) is code


@pytest.mark.parametrize("spelling", [None, "", "3", "X", "男女", "boy"])
def test_unknown_spellings_map_to_none(spelling: str | None) -> None:
    assert sex_code(spelling) is None


def test_codes_and_labels_follow_the_standard() -> None:
    assert {c.value: c.label for c in SexCode} == {
        "0": "未知的性别", "1": "男性", "2": "女性", "9": "未说明的性别",
    }
