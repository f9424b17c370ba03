"""GB/T 2260 administrative division codes, checked against the shipped table.

A code that never existed rejects the event. A retired code (e.g. 110103 崇文区, merged in
2010) was right when the record was made; it passes unchanged with a ``division.retired``
finding. It is not rewritten to a successor because merges and splits have no one-to-one
successor.
"""

from __future__ import annotations

from streams.stages.rules.findings import Reason, RuleViolation, violation
from topics.codes.divisions import Division, DivisionTable


def check_division(value: str, field: str, table: DivisionTable) -> Division | RuleViolation:
    """The table row of a cleaned 6-digit code (which may be retired), or a violation."""
    division = table.lookup(value)
    if division is not None:
        return division
    if len(value) != 6 or not (value.isascii() and value.isdigit()):
        return violation(Reason.DIVISION_FORMAT, field, "6 digits expected")
    return violation(Reason.DIVISION_UNKNOWN, field, "not in GB/T 2260")


def retired_finding(division: Division, field: str) -> RuleViolation | None:
    """The ``division.retired`` finding for a code no longer current, else None."""
    if division.is_current:
        return None
    return violation(Reason.DIVISION_RETIRED, field, f"{division.code} {division.name} retired")
