"""The simulator's remarks: their labels point at identifiers of the kind they say."""

from __future__ import annotations

import datetime as dt
import re

from stdnum import luhn

from connectors.simulator import labelled_remarks
from topics.codes.phone_plan import FIXED_LINE_PATTERN, is_cn_mobile
from topics.free_text import TextKind

_NOT_DIGITS = re.compile(r"[^0-9X]")


def _valid(kind: TextKind, value: str) -> bool:
    digits = _NOT_DIGITS.sub("", value)
    checks = {
        TextKind.ID_18: len(digits) == 18 and digits[-1] != "X",
        TextKind.ID_18X: len(digits) == 18 and digits[-1] == "X",
        TextKind.ID_15: len(digits) == 15,
        TextKind.MOBILE: is_cn_mobile(digits[-11:]),
        TextKind.LANDLINE: FIXED_LINE_PATTERN.fullmatch(digits[1:]) is not None,
        TextKind.BANK_CARD: len(digits) in (16, 19) and luhn.is_valid(digits),
        TextKind.NAME: 2 <= len(value) <= 4 and not digits,
    }
    return checks[kind]


def test_labels_point_at_identifiers_of_their_kind() -> None:
    remarks = labelled_remarks(500, seed=3)
    assert {span.kind for r in remarks for span in r.spans} == set(TextKind)
    for remark in remarks:
        for span in remark.spans:
            assert _valid(span.kind, remark.text[span.start:span.end]), (span, remark.text)


def test_same_seed_same_remarks() -> None:
    assert labelled_remarks(50, seed=4) == labelled_remarks(50, seed=4)


def test_a_first_generation_number_for_a_leap_day_birth_is_a_real_date() -> None:
    """Found by a 17-minute soak: 29 February 1992 moved 50 years back does not exist."""
    from random import Random

    from connectors.simulator.remarks import RemarkWriter

    writer = RemarkWriter(Random(1), None, ["110101"])  # type: ignore[arg-type]
    writer._birth = lambda: dt.date(1992, 2, 29)  # type: ignore[method-assign]
    assert writer._id_15()[6:12] == "420301"
