"""GB/T 2261.1 sex codes and the ways departments spell them."""

from __future__ import annotations

from enum import StrEnum


class SexCode(StrEnum):
    """GB/T 2261.1-2003 人的性别代码."""

    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    UNSPECIFIED = "9"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    SexCode.UNKNOWN: "未知的性别",
    SexCode.MALE: "男性",
    SexCode.FEMALE: "女性",
    SexCode.UNSPECIFIED: "未说明的性别",
}

# Keys are case-folded; full-width input must be cleaned to ASCII before the lookup.
_SPELLINGS: dict[str, SexCode] = {
    **{spelling: SexCode.MALE for spelling in ("1", "男", "男性", "m", "male")},
    **{spelling: SexCode.FEMALE for spelling in ("2", "女", "女性", "f", "female")},
    **{spelling: SexCode.UNKNOWN for spelling in ("0", "未知", "未知的性别", "unknown")},
    **{spelling: SexCode.UNSPECIFIED for spelling in ("9", "未说明", "未说明的性别")},
}


def sex_code(spelling: str | None) -> SexCode | None:
    """The standard code for a department's spelling, or None when it is not one we know."""
    if spelling is None:
        return None
    return _SPELLINGS.get(spelling.strip().casefold())
