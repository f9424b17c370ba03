"""Mainland China telephone numbers (mobile, landline, 400/800 service lines), as E.164.

The cleaned row stores E.164 (``+8613812345678``, ``+861062345678``): one spelling per
number whatever notation the department used, and what phonenumbers formats. Display forms
are the masking stage's business.

phonenumbers costs ~30 us a number, twice the whole rules budget, so the common shapes
(11-digit mobile; landline with trunk 0, separators allowed) are matched against the CN
number patterns of ``topics.codes.phone_plan`` (phonenumbers' own metadata); only other
shapes (country code, extensions, carrier prefixes, service numbers) go through the full
parser.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, NamedTuple

import phonenumbers
from phonenumbers import PhoneNumberType

from streams.stages.rules.findings import Reason, RuleViolation, violation
from topics.codes.phone_plan import FIXED_LINE_PATTERN, MOBILE_PATTERN


class PhoneKind(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    SERVICE = "service"


class Phone(NamedTuple):
    e164: str
    kind: PhoneKind


_SEPARATORS: Final = str.maketrans("", "", " -()")

KINDS: Final = {
    PhoneNumberType.MOBILE: PhoneKind.MOBILE,
    PhoneNumberType.FIXED_LINE: PhoneKind.LANDLINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: PhoneKind.LANDLINE,
    PhoneNumberType.TOLL_FREE: PhoneKind.SERVICE,
    PhoneNumberType.SHARED_COST: PhoneKind.SERVICE,
}


def parse_phone(value: str, field: str) -> Phone | RuleViolation:
    """The E.164 form and kind of a cleaned phone value, or ``phone.invalid``."""
    digits = value if value.isdigit() else value.translate(_SEPARATORS)
    if digits.startswith("+86"):
        national, dialled = digits[3:], False
    elif digits.startswith("0086"):
        national, dialled = digits[4:], False
    else:
        national, dialled = digits, True  # as dialled at home: landlines with trunk 0
    if national.isascii() and national.isdigit():
        if len(national) == 11 and national[0] == "1" and MOBILE_PATTERN.fullmatch(national):
            return Phone("+86" + national, PhoneKind.MOBILE)
        if dialled:
            if (
                national[0] == "0"
                and national[1:2] != "0"
                and FIXED_LINE_PATTERN.fullmatch(national, 1)
            ):
                return Phone("+86" + national[1:], PhoneKind.LANDLINE)
        elif national[0] != "0" and FIXED_LINE_PATTERN.fullmatch(national):
            return Phone("+86" + national, PhoneKind.LANDLINE)
    return _parse_slow(value, field)


def _parse_slow(value: str, field: str) -> Phone | RuleViolation:
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        return violation(Reason.PHONE_INVALID, field, "not a telephone number")
    if number.country_code != 86 or not phonenumbers.is_valid_number_for_region(number, "CN"):
        return violation(Reason.PHONE_INVALID, field, "not a valid mainland number")
    kind = KINDS.get(phonenumbers.number_type(number))
    if kind is None:
        return violation(Reason.PHONE_INVALID, field, "not a mobile, landline or service line")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164, kind)
