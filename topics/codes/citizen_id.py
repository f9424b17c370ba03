"""GB 11643 citizen ID numbers (公民身份号码): check character, make, parse, upgrade.

Layout: 6-digit division code (GB/T 2260) + 8-digit birth date + 3-digit order code (odd for
men, even for women) + ISO 7064 MOD 11-2 check character (0-9 or X).

``stdnum.cn.ric.is_valid`` also insists that the division code existed in the birth year.
Real numbers break that rule (people born before 1983 got their first number years later,
under that day's codes), so parsing here checks structure, check character and birth date,
and leaves the division code to the GB/T 2260 table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from stdnum.cn import ric

from topics.codes.sex import SexCode

MAX_SEQUENCE = 498  # order codes 001-997 (men) and 002-998 (women); 999 is for centenarians


class CitizenIdProblem(StrEnum):
    """Why a number is not a valid citizen ID number (a rejection reason)."""

    LENGTH = "length"
    FORMAT = "format"
    CHECK_CHAR = "check_char"
    BIRTH_DATE = "birth_date"


class CitizenIdError(ValueError):
    def __init__(self, problem: CitizenIdProblem, number: str) -> None:
        super().__init__(f"not a citizen ID number ({problem}): {number!r}")
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CitizenId:
    """The parts of a valid 18-character citizen ID number."""

    number: str
    division_code: str
    birth_date: dt.date
    order_code: str
    sex: SexCode


def _ascii_digits(text: str) -> bool:
    # str.isdigit alone accepts full-width and other Unicode digits.
    return text.isascii() and text.isdigit()


def citizen_id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if len(first17) != 17 or not _ascii_digits(first17):
        raise ValueError(f"need 17 ASCII digits, got {first17!r}")
    # stdnum takes a whole number and ignores its last character.
    return ric.calc_check_digit(first17 + "0")


def _date_digits(day: dt.date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def make_citizen_id(
    division_code: str, birth_date: dt.date, sequence: int, sex: SexCode
) -> str:
    """A valid number; ``sequence`` (0-498) ranks the person among those of the same sex
    born that day in that division, and becomes the order code 2*sequence+1 (men) or
    2*sequence+2 (women)."""
    if len(division_code) != 6 or not _ascii_digits(division_code):
        raise ValueError(f"division code must be 6 digits, got {division_code!r}")
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence must be 0-{MAX_SEQUENCE}, got {sequence}")
    if sex is SexCode.MALE:
        order = 2 * sequence + 1
    elif sex is SexCode.FEMALE:
        order = 2 * sequence + 2
    else:
        raise ValueError(f"a citizen ID number encodes male or female, not {sex.label}")
    first17 = f"{division_code}{_date_digits(birth_date)}{order:03d}"
    return first17 + citizen_id_check_char(first17)


def parse_citizen_id(number: str) -> CitizenId:
    """The parts of an 18-character number; raises CitizenIdError naming the problem.

    Accepts a lower-case x; anything else must already be clean ASCII.
    """
    text = number.strip().upper()
    if len(text) != 18:
        raise CitizenIdError(CitizenIdProblem.LENGTH, number)
    first17, check = text[:17], text[17]
    if not _ascii_digits(first17) or check not in "0123456789X":
        raise CitizenIdError(CitizenIdProblem.FORMAT, number)
    if citizen_id_check_char(first17) != check:
        raise CitizenIdError(CitizenIdProblem.CHECK_CHAR, number)
    birth_date = _birth_date(first17[6:14], number)
    order_code = first17[14:17]
    sex = SexCode.MALE if int(order_code[-1]) % 2 else SexCode.FEMALE
    return CitizenId(text, first17[:6], birth_date, order_code, sex)


def is_valid_citizen_id(number: str) -> bool:
    try:
        parse_citizen_id(number)
    except CitizenIdError:
        return False
    return True


def upgrade_legacy_id(number: str) -> str:
    """The 18-character form of a 15-digit number issued before 1999 (births 1900-1999)."""
    text = number.strip()
    if len(text) != 15:
        raise CitizenIdError(CitizenIdProblem.LENGTH, number)
    if not _ascii_digits(text):
        raise CitizenIdError(CitizenIdProblem.FORMAT, number)
    first17 = f"{text[:6]}19{text[6:]}"
    _birth_date(first17[6:14], number)
    return first17 + citizen_id_check_char(first17)


def _birth_date(digits: str, number: str) -> dt.date:
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise CitizenIdError(CitizenIdProblem.BIRTH_DATE, number) from None
