"""The identifiers free text may carry, by kind: the labels the simulator puts on the remarks
it writes and the kinds the text scrubber reports, so the two are scored against each other.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class TextKind(StrEnum):
    """What an identifier embedded in free text is."""

    ID_18 = "id_18"  # citizen ID, 18 characters ending in a digit
    ID_18X = "id_18x"  # citizen ID ending in the check character X
    ID_15 = "id_15"  # first-generation citizen ID, 15 digits
    MOBILE = "mobile"  # with or without separators and +86
    LANDLINE = "landline"  # area code and subscriber number
    BANK_CARD = "bank_card"  # 16-19 digits, Luhn check digit
    NAME = "name"  # a person's name after a cue such as 联系人, 户主, 申请人


#: Kinds held to the structured-identifier recall target; names have their own.
STRUCTURED: tuple[TextKind, ...] = tuple(k for k in TextKind if k is not TextKind.NAME)


class Span(NamedTuple):
    """An identifier at ``text[start:end]``."""

    kind: TextKind
    start: int
    end: int
