import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.stages.masking.masks import (
    birth_year,
    mask_id_division,
    mask_id_first6_last1,
    mask_id_number,
    mask_name,
    mask_phone,
    year_month,
)


def test_id_number() -> None:
    assert mask_id_number("34010419491231123X") == "340104********123X"
    assert mask_id_number("110105491231002") == "110105*****1002"
    assert mask_id_number("12345") == "*****"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张", "*"),
        ("张明", "张*"),
        ("张三明", "张*明"),
        ("欧阳娜娜", "欧**娜"),
        ("阿卜杜·热合曼", "阿*****曼"),
    ],
)
def test_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+8613812345678", "138****5678"),
        ("+861062345678", "010****5678"),
        ("+862012345678", "020****5678"),
        ("+8657187654321", "0571****4321"),
        ("+865718765432", "0571***5432"),
        ("+864001234567", "400***4567"),
    ],
)
def test_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_id_division_and_check_only() -> None:
    assert mask_id_first6_last1("34010419491231123X") == "340104***********X"
    assert mask_id_first6_last1("110105491231002") == "110105********2"
    assert mask_id_first6_last1("1234567") == "*******"
    assert mask_id_division("34010419491231123X") == "340104************"
    assert mask_id_division("110105491231002") == "110105*********"
    assert mask_id_division("123456") == "******"


def test_year_month_and_birth_year() -> None:
    assert year_month("1990-05-17") == "1990-05"
    assert birth_year("1990-05-17") == "1990"


@given(st.text(min_size=3))
def test_name_mask_hides_all_but_the_ends(name: str) -> None:
    masked = mask_name(name)
    assert len(masked) == len(name)
    assert masked[0] == name[0] and masked[-1] == name[-1] and set(masked[1:-1]) == {"*"}


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mobile_mask_keeps_seven_digits_at_most(number: str) -> None:
    masked = mask_phone("+86" + number)
    assert masked == number[:3] + "****" + number[-4:]
