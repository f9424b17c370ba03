"""How many citizen ID numbers fit what published values say about one person, counted
exactly, the way an attacker holding the rows would count them.

This reads values, not declarations: it shares nothing with the disclosure model
(``topics/disclosure.py``), so it can check the model's promise on real rows. A value is read
by its field name and its shape, as an analyst would read a table: a masked display
(``340104************``) fixes the characters it shows, a birth year, year range or year-month
narrows the birth date, a sex code the order code's parity, a division code or district name
the division, and every date or record time the person appears in bounds the birth date from
above (nobody is recorded before being born). The count uses GB 11643's check characters,
real calendar dates and every county-level code GB/T 2260 has had. It splits the check sum by
positions, so it never lists the hundreds of thousands of numbers it counts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Final, TypeVar

from topics.codes.divisions import division_table

T = TypeVar("T")
# Birth dates counted: the oldest person a register may still hold.
FIRST_BIRTH: Final = dt.date(1900, 1, 1)
# GB 11643: weights 2^(17-i) mod 11, check character indexed by the weighted sum mod 11.
WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
CHECK_OF_SUM: Final = "10X98765432"
MASKED_ID: Final = re.compile(r"[0-9*]{17}[0-9X*]")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR = re.compile(r"\d{4}")
_YEAR_RANGE = re.compile(r"\d{4}/\d{4}")
_YEAR_MONTH = re.compile(r"\d{4}-\d{2}")
_DIVISION = re.compile(r"\d{6,12}")


def residue(digits: str, offset: int) -> int:
    """The weighted sum of ``digits`` placed at ``offset`` of the 17, mod 11."""
    return sum(int(c) * WEIGHTS[offset + i] for i, c in enumerate(digits)) % 11


@cache
def county_codes() -> tuple[str, ...]:
    """Every county-level code the table has ever had: the attacker's universe."""
    return tuple(d.code for d in division_table() if not d.code.endswith("00"))


@cache
def _codes_by_district() -> Mapping[str, frozenset[str]]:
    table = division_table()
    names: dict[str, set[str]] = {}
    for code in county_codes():
        name = table.district_name(code)
        if name is not None:
            names.setdefault(name.removesuffix("市辖区"), set()).add(code)
    return {name: frozenset(codes) for name, codes in names.items()}


@dataclass
class IdKnowledge:
    """What published values tell about one citizen ID number."""

    known: dict[int, str] = field(default_factory=dict)  # position -> character
    divisions: set[str] | None = None
    years: set[int] | None = None
    months: set[tuple[int, int]] | None = None
    sex_parity: int | None = None  # order code parity: 1 men, 0 women
    born_by: dt.date | None = None  # the earliest date the person is on record
    narrowing: bool = False  # whether any value said anything about the number itself
    # Aspects on which published values disagree (a defect, or a department's stale value):
    # the attacker knows one of the claims holds, not which, so they narrow no further.
    conflicts: set[str] = field(default_factory=set)

    def narrow_divisions(self, codes: Iterable[str]) -> None:
        self.divisions = _narrow(self.divisions, set(codes))
        self.narrowing = True

    def _narrow_years(self, years: set[int]) -> None:
        self.years = _narrow(self.years, years)
        self.narrowing = True

    def _know(self, position: int, character: str) -> None:
        if position in self.known and self.known[position] != character:
            del self.known[position]
            self.conflicts.add(f"character {position}")
        elif f"character {position}" not in self.conflicts:
            self.known[position] = character

    def bound(self, day: dt.date) -> None:
        self.born_by = day if self.born_by is None else min(self.born_by, day)

    def read(self, name: str, value: object) -> None:
        """Learn from one published value named ``name``."""
        if name.endswith("ts_ms") and isinstance(value, int) and value > 0:
            self.bound(dt.datetime.fromtimestamp(value / 1000, dt.UTC).date())
        if not isinstance(value, str):
            return
        birth = "birth" in name
        if "date" in name and not birth and _ISO_DAY.fullmatch(value):
            self.bound(dt.date.fromisoformat(value))
        elif birth and _YEAR_RANGE.fullmatch(value):
            self._narrow_years(set(range(int(value[:4]), int(value[5:]) + 1)))
        elif MASKED_ID.fullmatch(value) and "*" in value:
            for i, c in enumerate(value):
                if c != "*":
                    self._know(i, c)
            self.narrowing = True
        elif birth and _YEAR.fullmatch(value):
            self._narrow_years({int(value)})
        elif birth and _YEAR_MONTH.fullmatch(value):
            self.months = _narrow(self.months, {(int(value[:4]), int(value[5:]))})
            self.narrowing = True
        elif name.endswith("sex") and value in ("1", "2"):
            parity = 1 if value == "1" else 0
            if self.sex_parity not in (None, parity) or "sex" in self.conflicts:
                self.sex_parity = None
                self.conflicts.add("sex")
            else:
                self.sex_parity = parity
            self.narrowing = True
        elif "division" in name and _DIVISION.fullmatch(value):
            self.narrow_divisions({value[:6]})
        elif "district" in name and value in _codes_by_district():
            self.narrow_divisions(_codes_by_district()[value])

    def read_all(self, values: Iterable[tuple[str, object]]) -> IdKnowledge:
        for name, value in values:
            self.read(name, value)
        return self

    def consistent_with(self, number: str) -> bool:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        return (
            all(number[i] == c for i, c in self.known.items())
            and (self.divisions is None or number[:6] in self.divisions)
            and (self.years is None or born.year in self.years)
            and (self.months is None or (born.year, born.month) in self.months)
            and (self.sex_parity is None or int(number[16]) % 2 == self.sex_parity)
            and (self.born_by is None or born <= self.born_by)
        )

    def candidates(self, today: dt.date) -> int:
        """How many valid citizen ID numbers fit, born no later than ``today``. A record
        date before every birth the other values allow is a defect, and bounds nothing."""
        count = self._count(min(self.born_by or today, today), today)
        return count if count or self.born_by is None else self._count(today, today)

    def _count(self, until: dt.date, today: dt.date) -> int:
        known = tuple(sorted(self.known.items()))
        dates = _date_residues(
            until,
            self._years_to_count(today),
            tuple(sorted(self.months)) if self.months is not None else None,
            tuple((i, c) for i, c in known if 6 <= i < 14),
        )
        orders = _order_residues(self.sex_parity, tuple((i, c) for i, c in known if 14 <= i < 17))
        tails = Counter[int]()
        for r1, n1 in dates.items():
            for r2, n2 in orders.items():
                tails[(r1 + r2) % 11] += n1 * n2
        divisions = _divisions(tuple((i, c) for i, c in known if i < 6),
                               frozenset(self.divisions or ()))
        check = self.known.get(17)
        if check is None:
            return len(divisions) * sum(tails.values())
        return sum(
            n for code in divisions for r, n in tails.items()
            if CHECK_OF_SUM[(residue(code, 0) + r) % 11] == check
        )

    def _years_to_count(self, today: dt.date) -> tuple[int, ...]:
        years = set(range(FIRST_BIRTH.year, today.year + 1))
        if self.years is not None:
            years &= self.years
        if self.months is not None:
            years &= {year for year, _ in self.months}
        return tuple(sorted(years))


def _narrow(known: set[T] | None, claim: set[T]) -> set[T] | None:
    """``known`` narrowed by a claim; claims that contradict it widen it instead."""
    if known is None:
        return claim
    return (known & claim) or (known | claim)


@cache
def _divisions(shown: tuple[tuple[int, str], ...], claimed: frozenset[str]) -> tuple[str, ...]:
    """The claimed division codes that fit the displayed characters; when none does, every
    code that does: a person's current division need not be the one their number was issued
    in (people move), and the displayed characters win."""
    fitting = tuple(code for code in sorted(claimed) if all(code[i] == c for i, c in shown))
    return fitting or tuple(code for code in county_codes() if all(code[i] == c for i, c in shown))


@cache
def _date_residues(until: dt.date, years: tuple[int, ...],
                   months: tuple[tuple[int, int], ...] | None,
                   known: tuple[tuple[int, str], ...]) -> Counter[int]:
    """Residues of the birth-date digits over the dates allowed, born by ``until``."""
    residues = Counter[int]()
    for year in years:
        if year < until.year:
            residues.update(_year_residues(year, months, known, None))
        elif year == until.year:
            residues.update(_year_residues(year, months, known, until))
    return residues


@cache
def _year_residues(year: int, months: tuple[tuple[int, int], ...] | None,
                   known: tuple[tuple[int, str], ...], until: dt.date | None) -> Counter[int]:
    residues = Counter[int]()
    day = dt.date(year, 1, 1)
    last = until or dt.date(year, 12, 31)
    while day <= last:
        digits = day.strftime("%Y%m%d")
        if ((months is None or (year, day.month) in months)
                and all(digits[i - 6] == c for i, c in known)):
            residues[residue(digits, 6)] += 1
        day += dt.timedelta(days=1)
    return residues


@cache
def _order_residues(parity: int | None, known: tuple[tuple[int, str], ...]) -> Counter[int]:
    residues = Counter[int]()
    for order in range(1000):
        digits = f"{order:03d}"
        if (parity is None or order % 2 == parity) and all(digits[i - 14] == c for i, c in known):
            residues[residue(digits, 14)] += 1
    return residues


def is_record_time(name: str, value: object) -> bool:
    """A time the record states something happened: every person in it was born by then."""
    return (name.endswith("ts_ms") and isinstance(value, int)) or (
        "date" in name and "birth" not in name and isinstance(value, str)
        and _ISO_DAY.fullmatch(value) is not None)


def persons(row: Mapping[str, object]) -> list[list[tuple[str, object]]]:
    """A row's values per person it names: a masked ID display ``<prefix>id_...`` names one,
    and the values named with its prefix are that person's (``party_a_birth_date_year``).
    Unprefixed values belong to a person named without a prefix, if any (in an enterprise's
    row, ``division_code`` is the enterprise's, not its legal representative's). Record times
    bound every person's birth."""
    values = list(published_values(row))
    prefixes = sorted({name.split("id_", 1)[0] for name, value in values
                       if isinstance(value, str) and "*" in value and MASKED_ID.fullmatch(value)},
                      key=len, reverse=True)
    if len(prefixes) <= 1 and not any(prefixes):
        return [values]
    groups: list[list[tuple[str, object]]] = []
    for prefix in prefixes:
        others = [p for p in prefixes if p != prefix and p.startswith(prefix)]
        groups.append([
            (name, value) for name, value in values
            if is_record_time(name, value)
            or (name.startswith(prefix) and not any(name.startswith(p) for p in others))
        ])
    return groups


def published_values(row: Mapping[str, object]) -> Iterator[tuple[str, object]]:
    """A row's fields, a fact's attributes and a profile's candidate values and times."""
    for name, value in row.items():
        if name == "attributes" and isinstance(value, Mapping):
            yield from value.items()
        elif name == "candidates" and isinstance(value, list):
            for candidate in value:
                if isinstance(candidate, Mapping):
                    yield str(candidate.get("attribute")), candidate.get("value")
                    yield "source_ts_ms", candidate.get("source_ts_ms")
        else:
            yield name, value
