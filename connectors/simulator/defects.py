"""The faults departments' data really has, put into rows on purpose and labeled.

Which fields a defect can hit comes from the row schema's annotations (``govbus.format``,
``govbus.required``, ``govbus.pii``), the same place the validation stage reads, so a new
source table gets its defects without code here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from random import Random
from typing import Any

from connectors.simulator.formats import department_date, full_width, parse_department_date
from topics.annotations import FieldFormat, Pii
from topics.codes.citizen_id import citizen_id_check_char
from topics.codes.divisions import DivisionTable
from topics.codes.uscc import USCC_ALPHABET
from topics.schemas import row_spec

Row = dict[str, Any]


class DefectKind(StrEnum):
    """What is wrong with a defective row; the validation stage's reasons should match."""

    BAD_ID_CHECK_CHAR = "bad_id_check_char"
    INVALID_ID_BIRTH_DATE = "invalid_id_birth_date"
    FULL_WIDTH = "full_width"  # repairable: cleaning recovers the intended value
    MISSING_REQUIRED = "missing_required"
    BIRTH_DATE_MISMATCH = "birth_date_mismatch"  # birth date field disagrees with the ID
    UNKNOWN_DIVISION = "unknown_division"
    RETIRED_DIVISION = "retired_division"
    BAD_USCC_CHECK_CHAR = "bad_uscc_check_char"
    MALFORMED_PHONE = "malformed_phone"
    EXPIRY_BEFORE_ISSUE = "expiry_before_issue"


_IMPOSSIBLE_MONTH_DAYS = ("1301", "0230", "0431", "0000", "0132", "1232")
_NOT_PHONES = ("无", "0", "/")
_ID_CHARS = "0123456789X"


class DefectInjector:
    """Breaks one field of a row copy in one of the ways :class:`DefectKind` names."""

    def __init__(self, sources: Sequence[str], divisions: DivisionTable, province: str) -> None:
        self._targets = {source: _targets(source) for source in sources}
        self._known = divisions
        self._province = province
        retired = [d.code for d in divisions if not d.is_current and not d.code.endswith("00")]
        near = [code for code in retired if code.startswith(province)]
        self._retired = tuple(near or retired)
        self._apply: Mapping[DefectKind, Callable[[Row, str, Random], Any]] = {
            DefectKind.BAD_ID_CHECK_CHAR: _bad_id_check_char,
            DefectKind.INVALID_ID_BIRTH_DATE: _invalid_id_birth_date,
            DefectKind.FULL_WIDTH: lambda row, name, rng: full_width(row[name]),
            DefectKind.MISSING_REQUIRED: lambda row, name, rng: None,
            DefectKind.BIRTH_DATE_MISMATCH: _birth_date_mismatch,
            DefectKind.UNKNOWN_DIVISION: self._unknown_division,
            DefectKind.RETIRED_DIVISION: lambda row, name, rng: rng.choice(self._retired),
            DefectKind.BAD_USCC_CHECK_CHAR: _bad_uscc_check_char,
            DefectKind.MALFORMED_PHONE: _malformed_phone,
            DefectKind.EXPIRY_BEFORE_ISSUE: _expiry_before_issue,
        }

    def inject(self, source: str, row: Row, rng: Random) -> tuple[DefectKind, str] | None:
        """Breaks ``row`` in place (pass a copy); None when no defect fits this row.

        The kind is drawn first and the field second, so kinds that fit many fields (a
        missing required value) do not crowd out the others.
        """
        fitting: dict[DefectKind, list[str]] = {}
        for kind, name, needs in self._targets[source]:
            if all(row.get(field) is not None for field in needs):
                fitting.setdefault(kind, []).append(name)
        if not fitting:
            return None
        kinds = list(fitting)
        kind = kinds[rng.randrange(len(kinds))]
        name = rng.choice(fitting[kind])
        row[name] = self._apply[kind](row, name, rng)
        return kind, name

    def _unknown_division(self, row: Row, name: str, rng: Random) -> str:
        while True:
            code = f"{self._province}{rng.randint(0, 99):02d}{rng.randint(60, 99):02d}"
            if self._known.lookup(code) is None:
                return code


def _targets(source: str) -> list[tuple[DefectKind, str, tuple[str, ...]]]:
    """(kind, field it breaks, fields that must be set for it to apply) for one source."""
    spec = row_spec(source)
    names = {f.name for f in spec.fields}
    targets: list[tuple[DefectKind, str, tuple[str, ...]]] = []
    for f in spec.fields:
        if f.format is FieldFormat.CITIZEN_ID:
            targets += [
                (DefectKind.BAD_ID_CHECK_CHAR, f.name, (f.name,)),
                (DefectKind.INVALID_ID_BIRTH_DATE, f.name, (f.name,)),
                (DefectKind.FULL_WIDTH, f.name, (f.name,)),
            ]
        elif f.format is FieldFormat.PHONE:
            targets += [
                (DefectKind.FULL_WIDTH, f.name, (f.name,)),
                (DefectKind.MALFORMED_PHONE, f.name, (f.name,)),
            ]
        elif f.format is FieldFormat.USCC:
            targets.append((DefectKind.BAD_USCC_CHECK_CHAR, f.name, (f.name,)))
        elif f.format is FieldFormat.DIVISION_CODE:
            targets += [
                (DefectKind.UNKNOWN_DIVISION, f.name, (f.name,)),
                (DefectKind.RETIRED_DIVISION, f.name, (f.name,)),
            ]
        if f.pii is Pii.BIRTH_DATE and _id_field(f.name) in names:
            targets.append((DefectKind.BIRTH_DATE_MISMATCH, f.name, (f.name, _id_field(f.name))))
        if f.required and f.nullable:
            targets.append((DefectKind.MISSING_REQUIRED, f.name, (f.name,)))
    if {"issue_date", "expiry_date"} <= names:
        needs = ("issue_date", "expiry_date")
        targets.append((DefectKind.EXPIRY_BEFORE_ISSUE, "expiry_date", needs))
    return targets


def _id_field(birth_field: str) -> str:
    # birth_date pairs with id_number, party_a_birth_date with party_a_id_number.
    return birth_field.replace("birth_date", "id_number")


def _bad_id_check_char(row: Row, name: str, rng: Random) -> str:
    number: str = row[name]
    wrong = [c for c in _ID_CHARS if c != number[17]]
    return number[:17] + rng.choice(wrong)


def _invalid_id_birth_date(row: Row, name: str, rng: Random) -> str:
    number: str = row[name]
    # A correct check character, so the date is the only fault.
    first17 = number[:10] + rng.choice(_IMPOSSIBLE_MONTH_DAYS) + number[14:17]
    return first17 + citizen_id_check_char(first17)


def _birth_date_mismatch(row: Row, name: str, rng: Random) -> str:
    number: str = row[_id_field(name)]
    born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    shift = rng.choice((-1, 1)) * rng.randint(1, 800)
    return department_date(born + dt.timedelta(days=shift), rng)


def _bad_uscc_check_char(row: Row, name: str, rng: Random) -> str:
    code: str = row[name]
    wrong = [c for c in USCC_ALPHABET if c != code[17]]
    return code[:17] + rng.choice(wrong)


def _malformed_phone(row: Row, name: str, rng: Random) -> str:
    phone: str = row[name]
    pick = rng.randrange(3)
    if pick == 0:
        return phone[:-1]
    if pick == 1:
        return phone + str(rng.randint(0, 9))
    return rng.choice(_NOT_PHONES)


def _expiry_before_issue(row: Row, name: str, rng: Random) -> str:
    issued = parse_department_date(row["issue_date"])
    return department_date(issued - dt.timedelta(days=rng.randint(1, 3650)), rng)
