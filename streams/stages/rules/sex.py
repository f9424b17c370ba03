"""GB/T 2261.1 sex codes: department spellings (男, F, 女性, 1, ...) mapped to the code.

An unmapped spelling rejects the event rather than being coded 0 or 9: those codes assert
something the department did not say, and the DLQ shows which spelling to add to the map.
"""

from __future__ import annotations

from streams.stages.rules.findings import Reason, RuleViolation, violation
from topics.codes.sex import SexCode, sex_code

_CODES = frozenset(code.value for code in SexCode)


def check_sex(value: str, field: str) -> str | RuleViolation:
    """The one-character GB/T 2261.1 code of a cleaned spelling, or ``sex.unknown``."""
    if value in _CODES:  # most departments already send the code
        return value
    code = sex_code(value)
    if code is None:
        return violation(Reason.SEX_UNKNOWN, field, "not a known spelling of a sex")
    return code.value
