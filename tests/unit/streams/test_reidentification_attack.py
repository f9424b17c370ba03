"""An attack on the published rows that does not trust the disclosure model.

Residents are generated, run through the stages' own functions (standardize, facts, theme
render), and each published row is read the way an analyst could: every value that
constrains the citizen ID (the masked display, birth year, sex code, division code, district
name, and the candidate values a profile keeps) narrows the 18 characters. The IDs left are
counted exactly: GB 11643 check characters, real calendar dates, division codes from
``topics/codes/gb2260.tsv``. The counting splits the check sum by positions, so it never
lists the hundreds of thousands of IDs it counts, and shares no code with the model.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import tomllib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings

from streams.enrich.facts import FactExtractor
from streams.enrich.profile import apply_fact
from streams.enrich.theme import render
from streams.masking.desensitizer import Desensitizer
from streams.masking.policy import POLICY_PATH, load_policy, parse_policy
from streams.masking.pseudonym import Pseudonymizer
from streams.rules.record_rules import RecordRules
from streams.standardize import StandardizeStage
from tests.unit.streams.people import Resident, envelope, residents
from topics.annotations import Grade
from topics.codes.citizen_id import citizen_id_check_char, make_citizen_id
from topics.codes.divisions import division_table
from topics.codes.sex import SexCode
from topics.schemas import row_spec

TODAY = dt.date(2026, 6, 1)
FIRST_BIRTH = dt.date(1900, 1, 1)
# GB 11643: weights 2^(17-i) mod 11, check character indexed by the weighted sum mod 11.
WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
CHECK_OF_SUM = "10X98765432"
MASKED_ID = re.compile(r"[0-9*]{17}[0-9X*]")
PSEUDONYMIZER = Pseudonymizer(secrets.token_bytes(32), "t1")
MIN_CANDIDATES = load_policy().min_candidates[Grade.CORE]


def _residue(digits: str, offset: int) -> int:
    return sum(int(c) * WEIGHTS[offset + i] for i, c in enumerate(digits)) % 11


@cache
def _county_codes() -> tuple[str, ...]:
    """Every county-level code the table has ever had: the attacker's universe."""
    return tuple(d.code for d in division_table() if not d.code.endswith("00"))


@cache
def _codes_by_district() -> Mapping[str, frozenset[str]]:
    table = division_table()
    names: dict[str, set[str]] = {}
    for code in _county_codes():
        name = table.district_name(code)
        if name is not None:
            names.setdefault(name.removesuffix("市辖区"), set()).add(code)
    return {name: frozenset(codes) for name, codes in names.items()}


@dataclass
class Knowledge:
    """What a row tells about one citizen ID."""

    known: dict[int, str] = field(default_factory=dict)  # position -> character
    divisions: set[str] | None = None
    years: set[int] | None = None
    months: set[tuple[int, int]] | None = None
    sex_parity: int | None = None  # order code parity: 1 men, 0 women
    born_by: dt.date = TODAY  # any date the record states about the person comes after birth

    def narrow_divisions(self, codes: frozenset[str] | set[str]) -> None:
        self.divisions = set(codes) if self.divisions is None else self.divisions & set(codes)

    def read(self, name: str, value: object) -> None:
        if name.endswith("ts_ms") and isinstance(value, int) and value > 0:
            self.bound(dt.datetime.fromtimestamp(value / 1000, dt.UTC).date())
        if not isinstance(value, str):
            return
        if "date" in name and "birth" not in name and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            self.bound(dt.date.fromisoformat(value))
        elif "birth" in name and re.fullmatch(r"\d{4}/\d{4}", value):
            span = set(range(int(value[:4]), int(value[5:]) + 1))
            self.years = span if self.years is None else self.years & span
        elif MASKED_ID.fullmatch(value) and "*" in value:
            self.known.update((i, c) for i, c in enumerate(value) if c != "*")
        elif "birth" in name and re.fullmatch(r"\d{4}", value):
            self.years = {int(value)} if self.years is None else self.years & {int(value)}
        elif "birth" in name and re.fullmatch(r"\d{4}-\d{2}", value):
            month = (int(value[:4]), int(value[5:]))
            self.months = {month} if self.months is None else self.months & {month}
        elif name == "sex" and value in ("1", "2"):
            self.sex_parity = 1 if value == "1" else 0
        elif "division" in name and re.fullmatch(r"\d{6,12}", value):
            self.narrow_divisions({value[:6]})
        elif "district" in name and value in _codes_by_district():
            self.narrow_divisions(_codes_by_district()[value])

    def bound(self, day: dt.date) -> None:
        self.born_by = min(self.born_by, day)

    def consistent_with(self, number: str) -> bool:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        return (
            all(number[i] == c for i, c in self.known.items())
            and (self.divisions is None or number[:6] in self.divisions)
            and (self.years is None or born.year in self.years)
            and (self.months is None or (born.year, born.month) in self.months)
            and (self.sex_parity is None or int(number[16]) % 2 == self.sex_parity)
            and born <= self.born_by
        )

    def candidates(self) -> int:
        """How many valid citizen IDs fit, counted by check-sum residue."""
        known = tuple(sorted(self.known.items()))
        dates = _date_residues(
            self.born_by,
            tuple(sorted(self.years)) if self.years is not None else None,
            tuple(sorted(self.months)) if self.months is not None else None,
            tuple((i, c) for i, c in known if 6 <= i < 14),
        )
        orders = _order_residues(self.sex_parity, tuple((i, c) for i, c in known if 14 <= i < 17))
        tails = Counter[int]()
        for r1, n1 in dates.items():
            for r2, n2 in orders.items():
                tails[(r1 + r2) % 11] += n1 * n2
        divisions = [
            code for code in (self.divisions or _county_codes())
            if all(code[i] == c for i, c in known if i < 6)
        ]
        check = self.known.get(17)
        if check is None:
            return len(divisions) * sum(tails.values())
        return sum(
            n for code in divisions for r, n in tails.items()
            if CHECK_OF_SUM[(_residue(code, 0) + r) % 11] == check
        )


@cache
def _date_residues(until: dt.date, years: tuple[int, ...] | None,
                   months: tuple[tuple[int, int], ...] | None,
                   known: tuple[tuple[int, str], ...]) -> Counter[int]:
    residues = Counter[int]()
    day = FIRST_BIRTH
    while day <= until:
        digits = day.strftime("%Y%m%d")
        if ((years is None or day.year in years)
                and (months is None or (day.year, day.month) in months)
                and all(digits[i - 6] == c for i, c in known)):
            residues[_residue(digits, 6)] += 1
        day += dt.timedelta(days=1)
    return residues


@cache
def _order_residues(parity: int | None, known: tuple[tuple[int, str], ...]) -> Counter[int]:
    residues = Counter[int]()
    for order in range(1000):
        digits = f"{order:03d}"
        if (parity is None or order % 2 == parity) and all(digits[i - 14] == c for i, c in known):
            residues[_residue(digits, 14)] += 1
    return residues


def published_values(row: Mapping[str, Any]) -> Iterator[tuple[str, object]]:
    """A row's fields, a fact's attributes and a profile's candidate values."""
    for name, value in row.items():
        if name == "attributes" and isinstance(value, Mapping):
            yield from value.items()
        elif name == "candidates" and isinstance(value, list):
            yield from ((c["attribute"], c["value"]) for c in value)
        else:
            yield name, value


def knowledge_of(row: Mapping[str, Any]) -> Knowledge:
    known = Knowledge()
    for name, value in published_values(row):
        known.read(name, value)
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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(residents)
def test_no_published_row_narrows_a_citizen_id_below_the_minimum(resident: Resident) -> None:
    for record, row in published_rows(resident):
        known = knowledge_of(row)
        assert known.consistent_with(resident.id_number), record  # the attacker reads right
        count = known.candidates()
        assert count >= MIN_CANDIDATES, f"{record}: {count} candidates ({known})"


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
    assert known.candidates() <= 3


def test_the_counting_is_exact_on_a_small_case() -> None:
    """Brute force over a narrow case agrees with the residue counting."""
    number = make_citizen_id("110105", dt.date(1990, 2, 14), 17, SexCode.FEMALE)
    known = Knowledge(known={i: number[i] for i in (0, 1, 2, 3, 4, 5, 14, 15, 17)},
                      months={(1990, 2)}, sex_parity=0)
    brute = 0
    for day in range(1, 29):
        for last in "02468":
            first17 = f"110105199002{day:02d}{number[14:16]}{last}"
            brute += citizen_id_check_char(first17) == number[17]
    assert known.candidates() == brute >= 1
    assert CHECK_OF_SUM[_residue(number[:17], 0)] == number[17]
