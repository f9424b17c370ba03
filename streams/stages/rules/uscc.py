"""GB 32100 unified social credit codes: length, alphabet, MOD 31 check character.

The structure is checked here to name the problem; the check character comes from
``topics.codes.uscc``, which (unlike stdnum's validate) accepts the A/N/Y authorities.
"""

from __future__ import annotations

from typing import Final

from streams.stages.rules.findings import Reason, RuleViolation, violation
from topics.codes.uscc import USCC_ALPHABET, is_valid_uscc

_ALPHABET: Final = frozenset(USCC_ALPHABET)


def check_uscc(value: str, field: str) -> str | RuleViolation:
    """The cleaned, upper-cased code if valid, else a violation."""
    if len(value) != 18:
        return violation(Reason.USCC_LENGTH, field, f"{len(value)} characters, not 18")
    if not _ALPHABET.issuperset(value) or not value[2:8].isdigit():
        return violation(Reason.USCC_FORMAT, field, "characters outside GB 32100's alphabet")
    if not is_valid_uscc(value):
        return violation(Reason.USCC_CHECK_DIGIT, field, "MOD 31 check character")
    return value
