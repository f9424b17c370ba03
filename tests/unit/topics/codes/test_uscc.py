"""GB 32100 unified social credit codes: real codes, A/N/Y authorities, generated codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from topics.codes.uscc import (
    REGISTRATION_AUTHORITIES,
    USCC_ALPHABET,
    is_valid_uscc,
    make_uscc,
    org_code_check_char,
    uscc_check_char,
)

# Written out again here so the module is checked against something it does not share.
MOD31_WEIGHTS = [3 ** i % 31 for i in range(17)]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
FULL_LATIN = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def independent_uscc_ok(code: str) -> bool:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(code[:17], MOD31_WEIGHTS, strict=True))
    return USCC_ALPHABET[-total % 31] == code[17]


def independent_org_code_ok(code9: str) -> bool:
    total = sum(FULL_LATIN.index(c) * w for c, w in zip(code9[:8], ORG_WEIGHTS, strict=True))
    check = -total % 11
    return code9[8] == ("X" if check == 10 else str(check))


REAL_CODES = [
    "91110000600037341L",
    "121200004013590816",
    "91310115MA1K3BTP2B",
    "91620105L015101280",
    "9144030071526726XG",
    "92340603MA2UK3DT5H",
    "91340600MA2PBM9HXD",
]


def test_weights_written_here_are_the_standards() -> None:
    assert MOD31_WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code: str) -> None:
    assert is_valid_uscc(code)
    assert uscc_check_char(code[:17]) == code[17]
    assert independent_uscc_ok(code)
    assert org_code_check_char(code[8:16]) == code[16]


@pytest.mark.parametrize("authority", ["A", "N", "Y", "1", "5"])
def test_letter_authorities_are_valid_where_stdnum_refuses_them(authority: str) -> None:
    entity_type = next(iter(REGISTRATION_AUTHORITIES[authority][1]))
    code = make_uscc(authority, entity_type, "340104", "MA2PBM9H")
    assert independent_uscc_ok(code)
    assert is_valid_uscc(code)
    if not authority.isdigit():
        assert not stdnum_uscc.is_valid(code)


@pytest.mark.parametrize(
    "code",
    [
        "91110000600037341N",  # wrong check char
        "91110000600037341",  # short
        "9111000060003734IL",  # I is not in the alphabet
        "9111000060003734ol",  # lower case
        "91A10000600037341L",  # division code with a letter
        "９１１１００００６０００３７３４１Ｌ",  # full width
    ],
)
def test_invalid_codes(code: str) -> None:
    assert not is_valid_uscc(code)


def test_make_refuses_unknown_authority_or_entity_type() -> None:
    with pytest.raises(ValueError):
        make_uscc("B", "1", "340104", "12345678")
    with pytest.raises(ValueError):
        make_uscc("9", "9", "340104", "12345678")
    with pytest.raises(ValueError):
        make_uscc("9", "1", "34010", "12345678")
    with pytest.raises(ValueError):
        make_uscc("9", "1", "340104", "1234567I")


authority_and_type = st.sampled_from(
    [(a, t) for a, (_, types) in REGISTRATION_AUTHORITIES.items() for t in types]
)
division_codes = st.from_regex(r"\A[1-8][0-9]{5}\Z")
bodies = st.text(alphabet=USCC_ALPHABET, min_size=8, max_size=8)


@given(authority_and_type, division_codes, bodies)
def test_made_codes_pass_independent_checks(
    kind: tuple[str, str], division: str, body: str
) -> None:
    code = make_uscc(kind[0], kind[1], division, body)
    assert len(code) == 18 and set(code) <= set(USCC_ALPHABET)
    assert code[:8] == f"{kind[0]}{kind[1]}{division}"
    assert code[8:16] == body
    assert independent_org_code_ok(code[8:17])
    assert independent_uscc_ok(code)
    assert is_valid_uscc(code)


@given(authority_and_type, division_codes, bodies, st.integers(0, 17), st.integers(1, 30))
def test_any_single_character_change_is_caught(
    kind: tuple[str, str], division: str, body: str, position: int, shift: int
) -> None:
    code = make_uscc(kind[0], kind[1], division, body)
    char = USCC_ALPHABET[(USCC_ALPHABET.index(code[position]) + shift) % 31]
    assert not is_valid_uscc(code[:position] + char + code[position + 1:])
