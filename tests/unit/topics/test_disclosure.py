from topics.annotations import FieldFormat, Grade, Pii
from topics.disclosure import (
    BIRTH_DAYS,
    DAYS_IN_YEAR,
    EXACT,
    REVEALS_ALL,
    REVEALS_NOTHING,
    SEQUENCES_PER_SEX,
    Exposure,
    Identifier,
    PublishedField,
    assess,
    candidates,
    combine,
    exposure,
    identifier_grades,
)

CITIZEN_ID = Identifier.CITIZEN_ID
ID_LAST4 = {"division": EXACT, "sex": EXACT, "sequence": EXACT, "check": EXACT}


def test_a_clear_citizen_id_is_one_candidate_and_a_pseudonym_reveals_nothing() -> None:
    assert candidates(CITIZEN_ID, exposure(Pii.ID_NUMBER, None, REVEALS_ALL)) == 1
    assert not exposure(Pii.ID_NUMBER, None, REVEALS_NOTHING)


def test_the_reported_leak_last_four_with_a_birth_month_leaves_a_handful() -> None:
    seen = combine([
        exposure(Pii.ID_NUMBER, FieldFormat.CITIZEN_ID, ID_LAST4),
        exposure(Pii.BIRTH_DATE, FieldFormat.DATE, {"birth_date": 28}),
    ])
    assert candidates(CITIZEN_ID, seen) == 28 // 11


def test_district_sex_and_birth_year_with_the_division_and_check_shown() -> None:
    seen = combine([
        exposure(Pii.ID_NUMBER, None, {"division": EXACT, "check": EXACT}),
        exposure(Pii.NONE, FieldFormat.SEX_CODE, REVEALS_ALL),
        exposure(Pii.ADDRESS, None, {"district": EXACT}),
        exposure(Pii.BIRTH_DATE, FieldFormat.DATE, {"birth_date": DAYS_IN_YEAR}),
    ])
    assert candidates(CITIZEN_ID, seen) == DAYS_IN_YEAR * SEQUENCES_PER_SEX // 11


def test_fields_reveal_through_their_format_and_combine_at_their_most_precise() -> None:
    division = exposure(Pii.NONE, FieldFormat.DIVISION_CODE, REVEALS_ALL)
    assert division.parts == {(CITIZEN_ID, "division"): EXACT}
    assert not exposure(Pii.NONE, FieldFormat.DATE, REVEALS_ALL)
    year = exposure(Pii.BIRTH_DATE, None, {"birth_date": DAYS_IN_YEAR})
    day = exposure(Pii.BIRTH_DATE, None, REVEALS_ALL)
    assert combine([year, day]).parts[(CITIZEN_ID, "birth_date")] == EXACT
    assert candidates(CITIZEN_ID, Exposure()) == candidates(CITIZEN_ID, combine([])) > BIRTH_DAYS


def test_an_address_district_is_also_the_citizen_id_division() -> None:
    district = exposure(Pii.ADDRESS, None, {"district": EXACT})
    assert district.identifiers() == {Identifier.ADDRESS, CITIZEN_ID}


def test_assessment_names_the_fields_and_compares_with_the_grade_minimum() -> None:
    fields = [
        PublishedField("id_masked", exposure(Pii.ID_NUMBER, None, ID_LAST4)),
        PublishedField("born", exposure(Pii.BIRTH_DATE, None, {"birth_date": 28})),
        PublishedField("status", Exposure()),
    ]
    [found] = assess("theme.x", fields, {CITIZEN_ID: Grade.CORE}, {Grade.CORE: 10_000})
    assert not found.passes and found.fields == ("id_masked", "born")
    assert found.revealed == ("division", "birth_date~28", "sex", "sequence", "check")
    assert found.describe() == (
        "theme.x: citizen_id left with 2 candidates (< 10,000, core) by id_masked, born "
        "revealing division, birth_date~28, sex, sequence, check"
    )


def test_grades_come_from_fields_holding_a_whole_identifier() -> None:
    grades = identifier_grades([
        (Pii.ID_NUMBER, Grade.CORE), (Pii.BIRTH_DATE, Grade.IMPORTANT),
        (Pii.PHONE, Grade.GENERAL), (Pii.PHONE, Grade.IMPORTANT), (Pii.FREE_TEXT, Grade.GENERAL),
    ])
    assert grades == {CITIZEN_ID: Grade.CORE, Identifier.PHONE: Grade.IMPORTANT}
