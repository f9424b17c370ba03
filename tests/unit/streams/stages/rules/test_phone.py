import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.stages.rules.findings import RuleViolation
from streams.stages.rules.phone import KINDS, Phone, PhoneKind, parse_phone


@pytest.mark.parametrize(
    ("value", "e164", "kind"),
    [
        ("13812345678", "+8613812345678", PhoneKind.MOBILE),
        ("138-1234-5678", "+8613812345678", PhoneKind.MOBILE),
        ("+86 138 1234 5678", "+8613812345678", PhoneKind.MOBILE),
        ("008613812345678", "+8613812345678", PhoneKind.MOBILE),
        ("010-62345678", "+861062345678", PhoneKind.LANDLINE),
        ("(0571)87654321", "+8657187654321", PhoneKind.LANDLINE),
        ("0571 87654321", "+8657187654321", PhoneKind.LANDLINE),
        ("400-123-4567", "+864001234567", PhoneKind.SERVICE),
        ("+8613812345678", "+8613812345678", PhoneKind.MOBILE),
        ("+861062345678", "+861062345678", PhoneKind.LANDLINE),
        ("0086 10 62345678", "+861062345678", PhoneKind.LANDLINE),
    ],
)
def test_valid_numbers_normalize_to_e164(value: str, e164: str, kind: PhoneKind) -> None:
    assert parse_phone(value, "phone") == Phone(e164, kind)


@pytest.mark.parametrize("value", ["12345", "62345678", "+85291234567", "电话", "10086100861"])
def test_invalid_numbers(value: str) -> None:
    result = parse_phone(value, "phone")
    assert isinstance(result, RuleViolation) and result.reason_code == "phone.invalid"
    assert not result.fatal


def _library_says(number: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:
        return None
    # Valid numbers of other kinds (premium rate, VoIP, ...) are no one's contact phone.
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) not in KINDS:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@given(st.from_regex(r"1[0-9]{10}", fullmatch=True))
def test_fast_path_agrees_with_phonenumbers_on_mobiles(number: str) -> None:
    result = parse_phone(number, "phone")
    expected = _library_says(number)
    assert (result.e164 if isinstance(result, Phone) else None) == expected


@given(st.from_regex(r"0[1-9][0-9]{8,10}", fullmatch=True))
def test_fast_path_agrees_with_phonenumbers_on_landlines(number: str) -> None:
    result = parse_phone(number, "phone")
    expected = _library_says(number)
    assert (result.e164 if isinstance(result, Phone) else None) == expected


@given(st.from_regex(r"(\+86|0086)[0-9]{9,11}", fullmatch=True))
def test_fast_path_agrees_with_phonenumbers_on_international_forms(number: str) -> None:
    result = parse_phone(number, "phone")
    expected = _library_says(number)
    assert (result.e164 if isinstance(result, Phone) else None) == expected


@given(st.text(max_size=20))
def test_any_text_gives_a_phone_or_a_violation(value: str) -> None:
    assert isinstance(parse_phone(value, "phone"), Phone | RuleViolation)
