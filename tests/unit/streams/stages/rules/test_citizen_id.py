from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from streams.stages.rules.citizen_id import CitizenId, check_citizen_id
from streams.stages.rules.findings import RuleViolation
from topics.codes.citizen_id import make_citizen_id
from topics.codes.sex import SexCode

TODAY = date(2024, 6, 1)


def reason(value: str) -> str:
    result = check_citizen_id(value, "id_number", TODAY)
    assert isinstance(result, RuleViolation), result
    assert result.field == "id_number"
    return result.reason_code


def test_gb11643_example() -> None:
    result = check_citizen_id("11010519491231002X", "f", TODAY)
    assert result == CitizenId("11010519491231002X", date(1949, 12, 31), "2", False)


def test_legacy_15_digit_number_is_upgraded() -> None:
    result = check_citizen_id("110105491231002", "f", TODAY)
    assert result == CitizenId("11010519491231002X", date(1949, 12, 31), "2", True)


def test_rejections() -> None:
    assert reason("11010519491231002") == "citizen_id.length"
    assert reason("1101051949123100201") == "citizen_id.length"
    assert reason("11010519491231002Y") == "citizen_id.format"
    assert reason("1101051949123100A2") == "citizen_id.format"
    assert reason("11010519491231003X") == "citizen_id.check_digit"
    assert reason("990105194912310026") == "citizen_id.region"
    assert reason("110105194902300020") == "citizen_id.birth_date"  # no 30 February
    assert reason("11010549023002A") == "citizen_id.format"
    assert reason("110105490230002") == "citizen_id.birth_date"


def test_birth_date_in_the_future_is_rejected() -> None:
    number = make_citizen_id("110105", date(2024, 6, 2), 0, SexCode.MALE)
    assert reason(number) == "citizen_id.birth_date"
    assert isinstance(check_citizen_id(number, "f", date(2024, 6, 2)), CitizenId)


people = st.builds(
    make_citizen_id,
    st.sampled_from(["110105", "340104", "440305", "650102", "110103"]),
    st.dates(date(1900, 1, 1), TODAY),
    st.integers(0, 498),
    st.sampled_from([SexCode.MALE, SexCode.FEMALE]),
)


@given(people)
def test_every_valid_number_passes_with_its_birth_date_and_sex(number: str) -> None:
    result = check_citizen_id(number, "f", TODAY)
    assert isinstance(result, CitizenId)
    assert result.number == number
    assert result.birth_date.strftime("%Y%m%d") == number[6:14]
    assert result.sex == ("1" if int(number[16]) % 2 else "2")


@given(people, st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_error_is_caught(number: str, position: int, shift: int) -> None:
    digit = str((int(number[position]) + shift) % 10)
    wrong = number[:position] + digit + number[position + 1 :]
    assert isinstance(check_citizen_id(wrong, "f", TODAY), RuleViolation)


@given(st.dates(date(1900, 1, 1), date(1999, 12, 31)), st.integers(0, 498))
def test_upgrade_keeps_what_the_15_digits_say(born: date, sequence: int) -> None:
    full = make_citizen_id("110105", born, sequence, SexCode.MALE)
    legacy = full[:6] + full[8:17]
    assert check_citizen_id(legacy, "f", TODAY) == CitizenId(full, born, "1", True)


@given(st.text(max_size=20) | st.from_regex(r"[0-9]{14,18}[Xx]?", fullmatch=True))
def test_any_text_gives_an_id_or_a_violation(value: str) -> None:
    assert isinstance(check_citizen_id(value, "f", TODAY), CitizenId | RuleViolation)
