import pytest

from streams.stages.rules.findings import RuleViolation
from streams.stages.rules.sex import check_sex


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("1", "1"),
        ("男", "1"),
        ("男性", "1"),
        ("M", "1"),
        ("male", "1"),
        ("2", "2"),
        ("女", "2"),
        ("F", "2"),
        ("女性", "2"),
        ("0", "0"),
        ("未知", "0"),
        ("9", "9"),
        ("未说明的性别", "9"),
    ],
)
def test_department_spellings(spelling: str, code: str) -> None:
    assert check_sex(spelling, "sex") == code


def test_unknown_spelling_is_a_violation() -> None:
    result = check_sex("X", "sex")
    assert isinstance(result, RuleViolation) and result.reason_code == "sex.unknown"
    assert result.fatal
