"""Citizen ID numbers and phone numbers embedded in free text, found and masked.

Candidates come from one regular expression (digit runs not touching other letters or
digits), then each is validated before it is masked, so order numbers and amounts survive:
- an ID-shaped run must carry a province code and a real birth date. The check character is
  deliberately not required: a mistyped ID number is still personal data;
- a phone-shaped run must match the CN mobile or fixed-line pattern of phonenumbers' metadata.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from streams.masking.masks import mask_id_first6_last1, mask_phone
from streams.rules.citizen_id import REGIONS
from topics.codes.phone_plan import FIXED_LINE_PATTERN, MOBILE_PATTERN

_CANDIDATE: Final = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"(?P<id>\d{17}[\dXx]|\d{15})"
    r"|(?:\+?86[- ]?)?(?P<mobile>1[3-9]\d[- ]?\d{4}[- ]?\d{4})"
    r"|(?P<landline>0\d{2,3}[- ]?\d{7,8})"
    r")(?![0-9A-Za-z])",
    re.ASCII,
)
# Every candidate holds 3 digits, an optional separator and 4 digits; this simple search is
# 5x cheaper than the full expression on text without any (most remarks and scopes).
_MAYBE: Final = re.compile(r"[0-9]{3}[- ]?[0-9]{4}")
_SEPARATORS: Final = str.maketrans("", "", "- ")


def _real_day(digits: str) -> bool:
    try:
        date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return False
    return True


def _id_like(number: str) -> bool:
    birth = number[6:14] if len(number) == 18 else "19" + number[6:12]
    return number[:2] in REGIONS and _real_day(birth)


def _mask(match: re.Match[str]) -> str:
    number = match["id"]
    if number is not None:
        return mask_id_first6_last1(number.upper()) if _id_like(number) else match.group()
    mobile = match["mobile"]
    if mobile is not None:
        digits = mobile.translate(_SEPARATORS)
        return mask_phone("+86" + digits) if MOBILE_PATTERN.fullmatch(digits) else match.group()
    digits = match["landline"].translate(_SEPARATORS)
    if FIXED_LINE_PATTERN.fullmatch(digits, 1):
        return mask_phone("+86" + digits[1:])
    return match.group()


def scan_and_mask(text: str) -> str:
    """The text with every validated citizen ID and phone number in it masked."""
    if _MAYBE.search(text) is None:
        return text
    return _CANDIDATE.sub(_mask, text)
