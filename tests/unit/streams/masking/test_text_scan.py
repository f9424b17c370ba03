import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.masking.text_scan import scan_and_mask


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("证11010519491231002X，电话13812345678。", "证110105***********X，电话138****5678。"),
        ("身份证11010519491231002x", "身份证110105***********X"),
        ("错号11010519491231003X仍遮蔽", "错号110105***********X仍遮蔽"),
        ("旧证110105491231002", "旧证110105********2"),
        ("联系010-62345678或138 1234 5678", "联系010****5678或138****5678"),
        ("号码+8613812345678", "号码138****5678"),
    ],
)
def test_ids_and_phones_are_masked(text: str, masked: str) -> None:
    assert scan_and_mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "经营范围：软件开发；技术咨询",
        "订单号123456789012345678金额100",  # no real birth date inside
        "99999919491231002X",  # no such province
        "编号A13812345678",  # part of a longer code
        "金额12345678元",
    ],
)
def test_other_numbers_survive(text: str) -> None:
    assert scan_and_mask(text) == text


@given(st.text())
def test_text_without_long_digit_runs_is_unchanged(text: str) -> None:
    if not any(c.isdigit() for c in text):
        assert scan_and_mask(text) == text
    else:
        scan_and_mask(text)
