"""Reason codes of the enrichment stages and their quality finding records.

The codes are declared in ``streams/stages/rules/findings.Reason``, the one list of reason codes.
Records fit ``quality/finding.avsc`` and never carry values.
"""

from __future__ import annotations

from streams.stages.rules.findings import Dimension, Reason, RuleViolation

MISSING_KEY = Reason.ENRICH_MISSING_KEY.value
AUTHORITY_CONFLICT = Reason.CONSISTENCY_AUTHORITY_CONFLICT.value
STALE = Reason.TIMELINESS_STALE.value
FLAGGED = "flagged"


def missing_key(field: str, role: str, category: str) -> RuleViolation:
    """The note for an entity skipped because its key field is null."""
    return RuleViolation(
        MISSING_KEY, field, f"no key for the {role} {category}", Dimension.COMPLETENESS
    )
