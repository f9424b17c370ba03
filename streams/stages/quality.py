"""Quality finding records (``quality/finding.avsc``) from rule outcomes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.stages.rules.findings import RuleViolation, outcome_of


def finding_records(
    findings: Iterable[RuleViolation],
    *,
    event_id: str,
    stage: str,
    source: str,
    dept: str,
    source_ts_ms: int,
    detected_ms: int,
    rejected_by: RuleViolation | None = None,
) -> list[dict[str, Any]]:
    """One record per finding; the fatal one (if any) with outcome ``rejected``.

    Details name the field and the rule, never the value: findings are read by people who
    must not see the personal data they are about.
    """
    every = [*findings, *([rejected_by] if rejected_by is not None else [])]
    return [
        {
            "finding_id": f"{event_id}:{v.reason_code}:{v.field}",
            "event_id": event_id,
            "stage": stage,
            "dept": dept,
            "source": source,
            "dimension": str(v.dimension),
            "reason": v.reason_code,
            "field": v.field,
            "outcome": "rejected" if v is rejected_by else str(outcome_of(v.reason_code)),
            "detail": v.reason_code.replace("_", " ").replace(".", ": ") + (
                f" in {v.field}" if v.field else ""
            ),
            "source_ts_ms": source_ts_ms,
            "detected_ms": detected_ms,
        }
        for v in every
    ]
