"""Cross-field checks inside one record: ID number vs stated birth date and sex, date order.

All inputs are cleaned values (18-character valid ID, ISO dates, GB/T 2261.1 codes), so the
checks are string comparisons. Disagreements are findings: the row keeps both values.
"""

from __future__ import annotations

from streams.stages.rules.findings import Reason, RuleViolation, violation

_COMPARABLE_SEX = frozenset({"1", "2"})  # 0 unknown / 9 unstated contradict nothing


def birth_date_mismatch(id_number: str, birth_date: str, field: str) -> RuleViolation | None:
    """A finding on ``field`` when its ISO date is not the birth date inside the ID."""
    if birth_date.replace("-", "") == id_number[6:14]:
        return None
    return violation(
        Reason.CONSISTENCY_BIRTH_DATE_MISMATCH, field, "differs from the ID number's birth date"
    )


def sex_mismatch(id_number: str, sex: str, field: str) -> RuleViolation | None:
    """A finding on ``field`` when its sex code contradicts the ID's order code parity."""
    if sex not in _COMPARABLE_SEX or ("1" if int(id_number[16]) % 2 else "2") == sex:
        return None
    return violation(Reason.CONSISTENCY_SEX_MISMATCH, field, "differs from the ID number's sex")


def date_order_violation(
    earlier: str, later: str, earlier_field: str, later_field: str
) -> RuleViolation | None:
    """A finding on ``later_field`` when it falls before ``earlier_field`` (ISO dates)."""
    if later >= earlier:
        return None
    return violation(Reason.CONSISTENCY_DATE_ORDER, later_field, f"before {earlier_field}")
