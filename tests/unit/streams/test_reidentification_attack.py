"""An attack on the published rows that does not trust the disclosure model.

Residents are generated, run through the stages' own functions (standardize, facts, theme
render), and each published row is read the way an analyst could: every value that
constrains the citizen ID (the masked display, birth year, sex code, division code, district
name, and the candidate values a profile keeps) narrows the 18 characters. The IDs left are
counted exactly by ``topics/codes/id_candidates.py`` (GB 11643 check characters, real calendar
dates, every GB/T 2260 county code), which shares no code with the disclosure model; the
same counter is ``govbus privacy audit``'s, on the rows a running bus published.
"""

from __future__ import annotations

import datetime as dt
import secrets
import tomllib
from collections.abc import Iterator, Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings

from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.profile import apply_fact
from streams.stages.enrich.theme import render
from streams.stages.masking.desensitizer import Desensitizer
from streams.stages.masking.policy import POLICY_PATH, load_policy, parse_policy
from streams.stages.masking.pseudonym import Pseudonymizer
from streams.stages.rules.record_rules import RecordRules
from streams.stages.standardize import StandardizeStage
from tests.unit.streams.people import Resident, envelope, residents
from topics.annotations import Grade
from topics.codes.citizen_id import citizen_id_check_char, make_citizen_id
from topics.codes.id_candidates import CHECK_OF_SUM, IdKnowledge, published_values, residue
from topics.codes.sex import SexCode
from topics.schemas import row_spec

TODAY = dt.date(2026, 6, 1)
PSEUDONYMIZER = Pseudonymizer(secrets.token_bytes(32), "t1")
MIN_CANDIDATES = load_policy().min_candidates[Grade.CORE]
# A person on record this many days into their birth year keeps the minimum: the birth date
# is left with at least this many days, times 499 order codes of the known sex.
SAFE_DAYS_INTO_BIRTH_YEAR = -(-MIN_CANDIDATES // 499)


def knowledge_of(*rows: Mapping[str, Any]) -> IdKnowledge:
    known = IdKnowledge()
    for row in rows:
        known.read_all(published_values(row))
    return known


def published_rows(resident: Resident) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every row the pipeline publishes about the resident: std rows, facts, the profile."""
    extractor = FactExtractor()
    person = PSEUDONYMIZER(resident.id_number)
    state = None
    for ts, (source, row) in enumerate(
        (("household.resident", resident.household_row()),
         ("licence.licence", resident.licence_row())), start=resident.registered_ms,
    ):
        standardized = StandardizeStage(source, PSEUDONYMIZER)(envelope(row, ts), TODAY)
        assert standardized is not None and hasattr(standardized, "envelope"), standardized
        std = standardized.envelope
        yield f"std.{source}", std["after"]
        for fact in extractor.extract(source, std):
            if fact["entity_key"] == person:
                yield f"fact.{fact['category']} from {source}", fact
                state, _ = apply_fact(state, fact)
    profile = render("individual", person, state, now_ms=0)
    assert profile is not None
    yield "theme.individual", profile


def days_into_birth_year_on_record(resident: Resident) -> int:
    """Days from the start of the birth year to the resident's first record, inclusive."""
    return (resident.registered - dt.date(resident.birth.year, 1, 1)).days + 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(residents)
def test_no_published_row_nor_their_join_narrows_a_citizen_id_below_the_minimum(
    resident: Resident,
) -> None:
    """Every row alone and all rows about the person joined on the pseudonym, unless the
    person was on record within days of their birth year's start (next test)."""
    rows = list(published_rows(resident))
    early = days_into_birth_year_on_record(resident) < SAFE_DAYS_INTO_BIRTH_YEAR
    for record, known in [*((r, knowledge_of(row)) for r, row in rows),
                          ("joined", knowledge_of(*(row for _, row in rows)))]:
        assert known.consistent_with(resident.id_number), record  # the attacker reads right
        count = known.candidates(TODAY)
        assert count >= MIN_CANDIDATES or early, f"{record}: {count} candidates ({known})"


def test_a_newborn_on_record_early_in_the_birth_year_is_the_residual_the_audit_reports() -> None:
    """Exact record times bound the birth date: a baby born and registered in the first days
    of January is left with days x 499 order codes. No deterministic generalization of the
    birth date avoids that while record times stay exact; ``govbus privacy audit`` counts it
    on the published rows, and the README says so."""
    resident = Resident("340104", dt.date(2026, 1, 2), SexCode.FEMALE, 17,
                        registered_after_days=1)
    rows = [row for _, row in published_rows(resident)]
    joined = knowledge_of(*rows)
    assert joined.consistent_with(resident.id_number)
    # 1-3 January x the even order codes (the counter admits 000 too: 500)
    assert joined.candidates(TODAY) == 3 * 500 < MIN_CANDIDATES


def test_the_attack_finds_the_leak_of_the_old_policy() -> None:
    """The same attack against last four + birth year-month: a handful of candidates."""
    document = tomllib.loads(POLICY_PATH.read_text(encoding="utf-8"))
    document["pii"]["id_number"]["default"]["{field}_masked"] = "mask_id_number"
    document["pii"]["birth_date"]["default"] = {"{field}_year_month": "year_month"}
    resident = Resident("340124", dt.date(1990, 2, 14), SexCode.FEMALE, 17)
    source = "household.resident"
    checked = RecordRules.for_source(source).apply(resident.household_row(), TODAY)
    std = Desensitizer(row_spec(source), PSEUDONYMIZER, parse_policy(document)).apply(checked.row)
    known = knowledge_of(std)
    assert known.consistent_with(resident.id_number)
    assert known.candidates(TODAY) <= 3


def test_the_counting_is_exact_on_a_small_case() -> None:
    """Brute force over a narrow case agrees with the residue counting."""
    number = make_citizen_id("110105", dt.date(1990, 2, 14), 17, SexCode.FEMALE)
    known = IdKnowledge(known={i: number[i] for i in (0, 1, 2, 3, 4, 5, 14, 15, 17)},
                        months={(1990, 2)}, sex_parity=0)
    brute = 0
    for day in range(1, 29):
        for last in "02468":
            first17 = f"110105199002{day:02d}{number[14:16]}{last}"
            brute += citizen_id_check_char(first17) == number[17]
    assert known.candidates(TODAY) == brute >= 1
    assert CHECK_OF_SUM[residue(number[:17], 0)] == number[17]
