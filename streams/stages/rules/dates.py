"""Calendar dates in the notations departments really send, normalized to ISO 8601.

Accepted: 2021-03-04, 2021-3-4, 2021/3/4, 2021.03.04, 20210304, 2021年3月4日, each optionally
followed by a time of day (database exports of DATE columns carry " 00:00:00"), which is
dropped. 长期/长期有效/永久 (open-ended validity on licences) mean "no date": None.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from streams.stages.rules.findings import Reason, RuleViolation, violation

OPEN_ENDED: Final = frozenset({"长期", "长期有效", "永久", "永久有效"})

_ISO: Final = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_TIME: Final = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
# One separator kind per date, so 2021-03/04 is not taken for a date.
_SEPARATED: Final = re.compile(
    r"(\d{4})(?:([-/.])(\d{1,2})\2(\d{1,2})|年(\d{1,2})月(\d{1,2})日?)" + _TIME, re.ASCII
)
_COMPACT: Final = re.compile(r"(\d{4})(\d{2})(\d{2})" + _TIME, re.ASCII)


def parse_date(value: str, field: str) -> str | RuleViolation | None:
    """The ISO form of a cleaned date value, None for open-ended, or a violation."""
    if len(value) == 10 and _ISO.fullmatch(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            return violation(Reason.DATE_IMPOSSIBLE, field, "no such calendar day")
        return value
    if value in OPEN_ENDED:
        return None
    match = _SEPARATED.fullmatch(value)
    if match is not None:
        year, _, month, day, cn_month, cn_day = match.groups()
        if month is None:
            month, day = cn_month, cn_day
    else:
        match = _COMPACT.fullmatch(value)
        if match is None:
            return violation(Reason.DATE_UNPARSEABLE, field, "not a date in a known notation")
        year, month, day = match.groups()
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return violation(Reason.DATE_IMPOSSIBLE, field, "no such calendar day")
