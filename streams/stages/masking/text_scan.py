"""Identifiers embedded in free text, found and masked: citizen IDs (18 with or without X, 15
digits), mobiles and landlines (with separators), bank card numbers, and person names after a
cue such as 联系人, 户主 or 申请人.

Numbers come from one regular expression (runs not touching other letters or digits), then
each is validated before it is masked, so order numbers, amounts and dates survive:
- an ID-shaped run must carry a province code and a real birth date. The check character is
  deliberately not required: a mistyped ID number is still personal data;
- a phone-shaped run must match the CN mobile or fixed-line pattern of phonenumbers' metadata;
- a card-shaped run (16-19 digits from an issuer range 3-6) must pass the Luhn check.
Names are found by jieba's part-of-speech tagging (``nr``, person name) of the words after a
cue; see :mod:`streams.stages.masking.person_names`. The segmenter is costly (tens of
microseconds per call), so it runs only on text with a cue, and only on the few characters
after it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from stdnum import luhn

from streams.stages.masking.masks import mask_id_division, mask_name, mask_phone
from streams.stages.masking.person_names import load_name_tagger, name_length
from streams.stages.rules.citizen_id import REGIONS
from topics.codes.phone_plan import FIXED_LINE_PATTERN, MOBILE_PATTERN
from topics.free_text import Span, TextKind

__all__ = ["NAME_CUES", "find_identifiers", "load_name_tagger", "scan_and_mask"]

_CANDIDATE: Final = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"(?P<card>\d{4}(?:[- ]\d{4}){3}(?:[- ]?\d{1,3})?)"
    r"|(?P<digits>\d{17}[\dXx]|\d{15,19})"
    r"|(?:\+?86[- ]?)?(?P<mobile>1[3-9]\d[- ]?\d{4}[- ]?\d{4})"
    r"|(?P<landline>(?:\(0\d{2,3}\)|0\d{2,3})[- ]?\d{3,4}[- ]?\d{4})"
    r")(?![0-9A-Za-z])",
    re.ASCII,
)
# Every candidate holds 3 digits, an optional separator and 4 digits; this simple search is
# 5x cheaper than the full expression on text without any (most remarks and scopes).
_MAYBE: Final = re.compile(r"[0-9]{3}[- ]?[0-9]{4}")
# Who a remark names: the contact, head of household, applicant, agent, ... A name follows,
# after an optional colon or 为/是.
NAME_CUES: Final = ("联系人", "户主", "申请人", "代理人", "经办人", "当事人", "监护人", "委托人",
                    "收件人", "领证人")
_CUE: Final = re.compile(f"(?:{'|'.join(NAME_CUES)})(?:[：:]|为|是)?[ ]?")
_NAME_WINDOW: Final = 8  # characters after a cue handed to the segmenter
_SEPARATORS: Final = str.maketrans("", "", "-() +")
_CARD_ISSUERS: Final = frozenset("3456")  # American Express/JCB, Visa, Mastercard, UnionPay


def _real_day(digits: str) -> bool:
    try:
        date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return False
    return True


def _id_like(number: str) -> bool:
    birth = number[6:14] if len(number) == 18 else "19" + number[6:12]
    return number[:2] in REGIONS and _real_day(birth)


def _card_like(digits: str) -> bool:
    return 16 <= len(digits) <= 19 and digits[0] in _CARD_ISSUERS and luhn.is_valid(digits)


def _number_kind(match: re.Match[str]) -> TextKind | None:
    """The kind of a candidate number, or None when it is not one (an order number ...)."""
    digits = match["digits"]
    if digits is not None:
        if len(digits) in (15, 18) and _id_like(digits):
            if len(digits) == 15:
                return TextKind.ID_15
            return TextKind.ID_18X if digits[-1] in "Xx" else TextKind.ID_18
        return TextKind.BANK_CARD if digits.isdigit() and _card_like(digits) else None
    card = match["card"]
    if card is not None:
        return TextKind.BANK_CARD if _card_like(card.translate(_SEPARATORS)) else None
    mobile = match["mobile"]
    if mobile is not None:
        return TextKind.MOBILE if MOBILE_PATTERN.fullmatch(mobile.translate(_SEPARATORS)) else None
    landline = match["landline"].translate(_SEPARATORS)
    return TextKind.LANDLINE if FIXED_LINE_PATTERN.fullmatch(landline, 1) else None


def find_identifiers(text: str) -> list[Span]:
    """Every identifier in ``text``, in order, not overlapping."""
    spans: list[Span] = []
    if _MAYBE.search(text) is not None:
        for match in _CANDIDATE.finditer(text):
            kind = _number_kind(match)
            if kind is not None:
                spans.append(Span(kind, match.start(), match.end()))
    for cue in _CUE.finditer(text):
        start = cue.end()
        length = name_length(text[start:start + _NAME_WINDOW])
        if length and not any(s.start < start + length and start < s.end for s in spans):
            spans.append(Span(TextKind.NAME, start, start + length))
    spans.sort(key=lambda s: s.start)
    return spans


def _masked(kind: TextKind, value: str) -> str:
    if kind is TextKind.NAME:
        return mask_name(value)
    if kind is TextKind.MOBILE:
        # The last 11 digits: a +86 prefix goes with the mask, which shows the national form.
        return mask_phone("+86" + value.translate(_SEPARATORS)[-11:])
    if kind is TextKind.LANDLINE:
        return mask_phone("+86" + value.translate(_SEPARATORS)[1:])
    if kind is TextKind.BANK_CARD:
        digits = value.translate(_SEPARATORS)  # first 6 (issuer) and last 4, as cards print
        return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]
    return mask_id_division(value.upper())


def scan_and_mask(text: str) -> str:
    """The text with every identifier :func:`find_identifiers` finds masked."""
    if _MAYBE.search(text) is None and _CUE.search(text) is None:
        return text
    spans = find_identifiers(text)
    if not spans:
        return text
    parts: list[str] = []
    at = 0
    for kind, start, end in spans:
        parts += [text[at:start], _masked(kind, text[start:end])]
        at = end
    parts.append(text[at:])
    return "".join(parts)
