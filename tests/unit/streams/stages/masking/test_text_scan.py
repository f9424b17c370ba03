import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.stages.masking.text_scan import find_identifiers, scan_and_mask
from topics.free_text import TextKind


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("证11010519491231002X，电话13812345678。", "证110105************，电话138****5678。"),
        ("身份证11010519491231002x", "身份证110105************"),
        ("错号11010519491231003X仍遮蔽", "错号110105************仍遮蔽"),
        ("旧证110105491231002", "旧证110105*********"),
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


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("退款至6222021234567890128", "退款至622202*********0128"),
        ("卡号6217 0012 3456 7893", "卡号621700******7893"),
        ("座机(0551)62345678", "座机0551****5678"),
        ("电话+86 138 1234 5678", "电话138****5678"),
        ("联系人王秀英，电话13812345678", "联系人王*英，电话138****5678"),
        ("户主：刘建平已迁出", "户主：刘*平已迁出"),
        ("申请人为严亮", "申请人为严*"),
    ],
)
def test_cards_landlines_and_names_are_masked(text: str, masked: str) -> None:
    assert scan_and_mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "联系人已变更",
        "申请人本人到场",
        "户主变更登记",
        "联系人电话待补",
        "订单号2024030112345678901",  # no card issuer starts with 2
        "卡号6222021234567890123",  # fails the Luhn check
    ],
)
def test_cues_without_names_and_other_numbers_survive(text: str) -> None:
    assert scan_and_mask(text) == text


def test_identifiers_are_found_by_kind() -> None:
    text = "户主张秀英，证11010519491231002X，旧证110105491231002，座机0551-62345678"
    kinds = [(span.kind, text[span.start:span.end]) for span in find_identifiers(text)]
    assert kinds == [
        (TextKind.NAME, "张秀英"),
        (TextKind.ID_18X, "11010519491231002X"),
        (TextKind.ID_15, "110105491231002"),
        (TextKind.LANDLINE, "0551-62345678"),
    ]
