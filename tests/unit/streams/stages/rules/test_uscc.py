from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from streams.stages.rules.findings import RuleViolation
from streams.stages.rules.uscc import check_uscc
from topics.codes.uscc import USCC_ALPHABET, make_uscc


def reason(value: str) -> str:
    result = check_uscc(value, "uscc")
    assert isinstance(result, RuleViolation), result
    return result.reason_code


def test_gb32100_example() -> None:
    assert check_uscc("91110000600037341L", "uscc") == "91110000600037341L"


def test_letters_in_the_first_two_positions_are_valid() -> None:
    code = make_uscc("N", "2", "110105", "MA01AB2C")
    assert not stdnum_uscc.is_valid(code)  # the library bug this rule works around
    assert check_uscc(code, "uscc") == code


def test_rejections() -> None:
    assert reason("9111000060003734") == "uscc.length"
    assert reason("91110000600037341I") == "uscc.format"  # I is not in the alphabet
    assert reason("911100A0600037341L") == "uscc.format"  # division code must be digits
    assert reason("91110000600037341M") == "uscc.check_digit"


codes = st.builds(
    make_uscc,
    st.just("9"),
    st.sampled_from(["1", "2", "3"]),
    st.sampled_from(["110000", "340104", "440305"]),
    st.text(USCC_ALPHABET, min_size=8, max_size=8),
)


@given(codes)
def test_generated_codes_pass(code: str) -> None:
    assert check_uscc(code, "uscc") == code


@given(codes, st.integers(0, 16), st.sampled_from(USCC_ALPHABET))
def test_any_single_character_error_is_caught(code: str, position: int, char: str) -> None:
    wrong = code[:position] + char + code[position + 1 :]
    if wrong != code:
        assert isinstance(check_uscc(wrong, "uscc"), RuleViolation)
