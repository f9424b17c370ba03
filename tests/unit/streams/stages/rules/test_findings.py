import re

from streams.stages.rules.findings import (
    FATAL_REASONS,
    Dimension,
    Outcome,
    Reason,
    dimension_of,
    is_fatal,
    outcome_of,
    violation,
)


def test_every_reason_has_a_dimension_and_a_stable_shape() -> None:
    for reason in Reason:
        assert isinstance(dimension_of(reason), Dimension)
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", reason.value), reason


def test_reason_codes_are_unique() -> None:
    assert len({r.value for r in Reason}) == len(Reason)


def test_fatal_decisions() -> None:
    fatal = {r.value for r in FATAL_REASONS}
    assert {
        "required.missing",
        "citizen_id.check_digit",
        "citizen_id.birth_date",
        "citizen_id.length",
        "uscc.check_digit",
        "division.unknown",
        "date.unparseable",
        "date.impossible",
        "sex.unknown",
    } <= fatal
    assert (
        not {
            "division.retired",
            "phone.invalid",
            "clean.full_width",
            "citizen_id.upgraded",
            "consistency.birth_date_mismatch",
            "consistency.sex_mismatch",
            "consistency.date_order",
        }
        & fatal
    )


def test_violation_takes_its_dimension_from_the_table() -> None:
    found = violation(Reason.CONSISTENCY_SEX_MISMATCH, "sex", "detail")
    assert found.dimension is Dimension.CONSISTENCY
    assert found.reason_code == "consistency.sex_mismatch"
    assert not found.fatal
    assert violation(Reason.REQUIRED_MISSING, "x", "").dimension is Dimension.COMPLETENESS
    assert is_fatal("required.missing") and not is_fatal("no.such_code")


def test_outcomes_match_the_quality_finding_vocabulary() -> None:
    assert {o.value for o in Outcome} == {"rejected", "repaired", "flagged"}
    assert outcome_of("citizen_id.upgraded") is Outcome.REPAIRED
    assert outcome_of("clean.full_width") is Outcome.REPAIRED
    assert outcome_of("division.retired") is Outcome.FLAGGED
    assert outcome_of("uscc.check_digit") is Outcome.REJECTED
    for reason in Reason:
        assert (outcome_of(reason.value) is Outcome.REJECTED) == is_fatal(reason.value)
