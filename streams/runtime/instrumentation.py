"""The streams' metrics: batch statistics onto the declared metrics."""

from __future__ import annotations

from ops import metrics
from streams.processors.stats import StageCounts


def observe_batch(stage: str, events: int, seconds: float, stats: StageCounts) -> None:
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
