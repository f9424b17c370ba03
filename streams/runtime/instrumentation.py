"""The streams' metrics: batch statistics onto the declared metrics."""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from ops import metrics


class StageStats(Protocol):
    """What a stage counts per batch."""

    outcomes: Counter[tuple[str, str]]  # (dept, outcome)
    quality: Counter[tuple[str, str, str]]  # (dept, dimension, reason)
    dead_letters: Counter[tuple[str, str, str]]  # (dept, step, reason)
    ignored: Counter[tuple[str, str]]  # (dept, reason)


def observe_batch(stage: str, events: int, seconds: float, stats: StageStats) -> None:
    """One processed batch: its size, time, outcomes by department, findings, dead letters
    and the events deliberately not processed, by reason."""
    metrics.record_stage_batch(stage, events, seconds)
    for (dept, outcome), count in stats.outcomes.items():
        metrics.stage_events.labels(stage=stage, dept=dept, outcome=outcome).inc(count)
    for (dept, dimension, reason), count in stats.quality.items():
        metrics.quality_findings.labels(dept=dept, dimension=dimension, reason=reason).inc(count)
    for (dept, step, reason), count in stats.dead_letters.items():
        metrics.dlq_events.labels(stage=stage, step=step, dept=dept, reason=reason).inc(count)
    for (dept, reason), count in stats.ignored.items():
        metrics.ignored_events.labels(stage=stage, dept=dept, reason=reason).inc(count)
