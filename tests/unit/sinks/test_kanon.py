"""k-anonymity figures, findings and summaries (pure logic; the engine side is in
tests/integration/sinks/test_privacy_monitor.py)."""

from __future__ import annotations

from fastavro import parse_schema
from fastavro.validation import validate

from sinks.clickhouse.kanon import (
    KANON_REASON,
    KAnonymity,
    finding_record,
    library_select,
    parse_row,
    summary_lines,
)
from sinks.clickhouse.tables import profile_table
from topics.annotations import Category, quasi_identifiers
from topics.catalog import catalog_in
from topics.schemas import load_avsc

BELOW = KAnonymity("theme_individual", ("sex", "district"), 5, 100, 30, 1, 12, 20)
EMPTY = KAnonymity("theme_event", (), 5, 0, 0, None, 0, 0)


def test_quasi_identifiers_come_from_the_annotations() -> None:
    assert quasi_identifiers(load_avsc("theme/individual.avsc")) == (
        "sex", "birth_year", "ethnicity", "district")
    assert quasi_identifiers(load_avsc("theme/organization.avsc")) == ()


def test_the_query_groups_by_the_quasi_identifiers_of_the_live_table() -> None:
    catalog = catalog_in("unit.")
    individual = library_select(profile_table(catalog, Category.INDIVIDUAL, "db").spec, 5)
    assert "FINAL GROUP BY `sex`, `birth_year`, `ethnicity`, `district`" in individual
    assert "countIf(n < 5)" in individual
    # Without quasi-identifiers the library is one class.
    thing = profile_table(catalog, Category.THING, "db").spec
    assert "GROUP BY toUInt8(0)" in library_select(thing, 5)


def test_rows_parse_back() -> None:
    row = ("theme_individual", "sex, district", 5, 100, 30, 1, 12, 20)
    assert parse_row(row) == BELOW
    assert parse_row(("theme_event", "", 5, 0, 0, None, 0, 0)) == EMPTY


def test_a_finding_fits_the_quality_schema_and_names_no_one() -> None:
    record = finding_record(BELOW, 1_700_000_000_000)
    assert validate(record, parse_schema(load_avsc("quality/finding.avsc")))
    assert record["reason"] == KANON_REASON and record["outcome"] == "flagged"
    assert record["detail"] == ("20 of 100 rows in 12 classes smaller than k=5; smallest class 1 "
                                "(quasi-identifiers: sex, district)")


def test_summary_says_which_libraries_are_k_anonymous() -> None:
    fine = KAnonymity("theme_thing", (), 5, 40, 1, 40, 0, 0)
    assert summary_lines([BELOW, fine, EMPTY]) == [
        "theme_individual: 100 rows, 30 classes over (sex, district), smallest 1; "
        "NOT 5-anonymous: 20 rows (20%) in 12 classes below k",
        "theme_thing: 40 rows, 1 classes over (none), smallest 40; 5-anonymous",
        "theme_event: 0 rows, 0 classes over (none), smallest -; empty",
    ]
