"""GB 11643 citizen ID numbers: structure, region, birth date, MOD 11-2 check character.

15-digit numbers (issued before 1999, births 1900-1999) are upgraded to 18 characters and
reported as a repair. The division code is only checked down to the province: a number
keeps the county code of the day it was issued, which may since have been retired.
"""

from __future__ import annotations

from datetime import date
from typing import Final, NamedTuple

from stdnum.cn import ric

from streams.stages.rules.findings import Reason, RuleViolation, violation
from topics.codes.citizen_id import CitizenIdError, CitizenIdProblem, upgrade_legacy_id
from topics.codes.divisions import division_table

# Residence permits of Hong Kong, Macao and Taiwan residents (GB 11643 layout) use 83xxxx
# for Taiwan although GB/T 2260 has no such province code.
_PERMIT_REGIONS: Final = frozenset({"83"})
REGIONS: Final = frozenset({d.code[:2] for d in division_table()}) | _PERMIT_REGIONS
_CHECK_CHARS: Final = frozenset("0123456789X")
_UPGRADE_REASONS: Final = {
    CitizenIdProblem.LENGTH: Reason.CITIZEN_ID_LENGTH,
    CitizenIdProblem.FORMAT: Reason.CITIZEN_ID_FORMAT,
    CitizenIdProblem.CHECK_CHAR: Reason.CITIZEN_ID_CHECK_DIGIT,
    CitizenIdProblem.BIRTH_DATE: Reason.CITIZEN_ID_BIRTH_DATE,
}


class CitizenId(NamedTuple):
    """A valid 18-character number and what it encodes (sex as a GB/T 2261.1 code)."""

    number: str
    birth_date: date
    sex: str
    upgraded: bool


def check_citizen_id(value: str, field: str, today: date) -> CitizenId | RuleViolation:
    """Validate a cleaned, upper-cased number; a 15-digit one comes back upgraded."""
    upgraded = len(value) == 15
    if upgraded:
        try:
            value = upgrade_legacy_id(value)
        except CitizenIdError as error:
            return violation(_UPGRADE_REASONS[error.problem], field, "15-digit number")
    elif len(value) != 18:
        return violation(Reason.CITIZEN_ID_LENGTH, field, f"{len(value)} characters, not 18")
    first17 = value[:17]
    if not (first17.isascii() and first17.isdigit()) or value[17] not in _CHECK_CHARS:
        return violation(Reason.CITIZEN_ID_FORMAT, field, "17 digits and a digit or X expected")
    if value[:2] not in REGIONS:
        return violation(Reason.CITIZEN_ID_REGION, field, "no such province code")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return violation(Reason.CITIZEN_ID_BIRTH_DATE, field, "no such calendar day")
    if birth > today:
        return violation(Reason.CITIZEN_ID_BIRTH_DATE, field, "birth date in the future")
    # stdnum's MOD 11-2 ignores the last character; the topics helper would re-check the
    # 17 digits we just checked, at twice the cost.
    if ric.calc_check_digit(value) != value[17]:
        return violation(Reason.CITIZEN_ID_CHECK_DIGIT, field, "MOD 11-2 check character")
    return CitizenId(value, birth, "1" if int(value[16]) % 2 else "2", upgraded)
