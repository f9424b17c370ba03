from streams.stages.rules.division import check_division, retired_finding
from streams.stages.rules.findings import RuleViolation
from topics.codes.divisions import Division, division_table

TABLE = division_table()


def test_current_code() -> None:
    result = check_division("110105", "division_code", TABLE)
    assert isinstance(result, Division) and result.name == "朝阳区"
    assert retired_finding(result, "division_code") is None


def test_retired_code_passes_with_a_finding() -> None:
    result = check_division("110103", "division_code", TABLE)  # 崇文区, merged in 2010
    assert isinstance(result, Division)
    finding = retired_finding(result, "division_code")
    assert finding is not None and finding.reason_code == "division.retired"
    assert not finding.fatal


def test_unknown_and_malformed_codes() -> None:
    unknown = check_division("110199", "f", TABLE)
    assert isinstance(unknown, RuleViolation) and unknown.reason_code == "division.unknown"
    malformed = check_division("11010", "f", TABLE)
    assert isinstance(malformed, RuleViolation) and malformed.reason_code == "division.format"
