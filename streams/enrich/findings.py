"""Reason codes of the enrichment stages and their quality finding records.

The codes are declared in ``streams/rules/findings.Reason``, the one list of reason codes.
Records fit ``quality/finding.avsc`` and never carry values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.quality import finding_records
from streams.rules.findings import Dimension, Reason, RuleViolation

MISSING_KEY = Reason.ENRICH_MISSING_KEY.value
AUTHORITY_CONFLICT = Reason.CONSISTENCY_AUTHORITY_CONFLICT.value
FLAGGED = "flagged"


def missing_key(field: str, role: str, category: str) -> RuleViolation:
    """The note for an entity skipped because its key field is null."""
    return RuleViolation(
        MISSING_KEY, field, f"no key for the {role} {category}", Dimension.COMPLETENESS
    )


def note_records(
    notes: Iterable[RuleViolation],
    *,
    event_id: str,
    stage: str,
    source: str,
    dept: str,
    source_ts_ms: int,
    detected_ms: int,
) -> list[dict[str, Any]]:
    """Finding records for extraction notes (all flagged: the event still passes)."""
    return finding_records(
        notes,
        event_id=event_id,
        stage=stage,
        source=source,
        dept=dept,
        source_ts_ms=source_ts_ms,
        detected_ms=detected_ms,
    )
