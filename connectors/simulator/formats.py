"""How departments write values: dates in four spellings, sex three ways, full-width input.

Raw rows carry the department's spelling on purpose; turning it into the standard one is the
validation stage's job, so the simulator must produce the variety it has to cope with.
"""

from __future__ import annotations

import datetime as dt
import re
from random import Random

from topics.codes.sex import SexCode

# Cumulative shares: ISO most often, then the slash, compact and Chinese forms.
_DATE_STYLES = ((0.55, "iso"), (0.75, "slash"), (0.90, "compact"), (1.0, "chinese"))
_SEX_STYLES = (
    {SexCode.MALE: "男", SexCode.FEMALE: "女"},
    {SexCode.MALE: "1", SexCode.FEMALE: "2"},
    {SexCode.MALE: "M", SexCode.FEMALE: "F"},
)
# ASCII '!'..'~' sit 0xFEE0 below their full-width forms.
_FULL_WIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}
_PARSE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m1>\d{2})-(?P<d1>\d{2})|/(?P<m2>\d{1,2})/(?P<d2>\d{1,2})"
    r"|(?P<m3>\d{2})(?P<d3>\d{2})|年(?P<m4>\d{1,2})月(?P<d4>\d{1,2})日)$"
)


def department_date(day: dt.date, rng: Random) -> str:
    """``2021-03-04``, ``2021/3/4``, ``20210304`` or ``2021年3月4日``."""
    pick = rng.random()
    style = next(name for share, name in _DATE_STYLES if pick < share)
    if style == "iso":
        return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
    if style == "slash":
        return f"{day.year:04d}/{day.month}/{day.day}"
    if style == "compact":
        return f"{day.year:04d}{day.month:02d}{day.day:02d}"
    return f"{day.year:04d}年{day.month}月{day.day}日"


def parse_department_date(text: str) -> dt.date:
    """The date behind any spelling :func:`department_date` writes; ValueError otherwise."""
    match = _PARSE.match(text)
    if match is None:
        raise ValueError(f"not a department date: {text!r}")
    parts = match.groupdict()
    month = next(parts[f"m{i}"] for i in range(1, 5) if parts[f"m{i}"])
    day = next(parts[f"d{i}"] for i in range(1, 5) if parts[f"d{i}"])
    return dt.date(int(parts["y"]), int(month), int(day))


def department_sex(sex: SexCode, rng: Random) -> str:
    """男/女, 1/2 or M/F, as the household, civil and legacy systems variously write it."""
    return _SEX_STYLES[rng.randrange(len(_SEX_STYLES))][sex]


def full_width(text: str) -> str:
    """The text as typed with a Chinese input method left in full-width mode."""
    return text.translate(_FULL_WIDTH)
