"""What a stage returns for one event: an output, a rejection, or nothing (filtered)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.stages.rules.findings import RuleViolation


@dataclass(frozen=True, slots=True)
class Rejected:
    """The event cannot be used; it goes to ``dlq.<stage>`` with this reason."""

    reason_code: str
    detail: str
    findings: tuple[RuleViolation, ...] = ()
    exception_class: str = "RuleViolation"
    fatal: RuleViolation | None = None


@dataclass(frozen=True, slots=True)
class Standardized:
    """The std change event of one raw event, and what was found on the way."""

    envelope: dict[str, Any]
    findings: tuple[RuleViolation, ...] = field(default=())
