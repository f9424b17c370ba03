"""What every processor counts per batch, by department: the metrics' source."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class StageCounts:
    """Counts of one or more batches (for metrics, tests and benchmarks)."""

    rejected: int = 0
    facts: int = 0
    stale: int = 0  # older than what it would change: not applied, reported
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (dept, outcome)
    quality: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # dept, dim, reason
    # (dept, step, reason)
    dead_letters: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    ignored: Counter[tuple[str, str]] = field(default_factory=Counter)  # (dept, reason)
