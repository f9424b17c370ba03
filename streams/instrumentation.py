"""The streams' metrics: batch statistics and consumer lag onto the declared metrics."""

from __future__ import annotations

from collections import Counter
from typing import Any

from confluent_kafka import Consumer

from ops import metrics

LAG_GROUP_LABEL_MAX = 64


def observe_batch(stage: str, events: int, seconds: float,
                  outcomes: Counter[tuple[str, str]],
                  quality: Counter[tuple[str, str, str]],
                  dead_letters: Counter[tuple[str, str]] | None = None,
                  ignored: Counter[tuple[str, str]] | None = None) -> None:
    """One processed batch: its size, time, outcomes by department, findings, dead letters
    and the events deliberately not processed, by reason."""
    metrics.record_stage_batch(stage, events, seconds)
    for (dept, outcome), count in outcomes.items():
        metrics.stage_events.labels(stage=stage, dept=dept, outcome=outcome).inc(count)
    for (dept, dimension, reason), count in quality.items():
        metrics.quality_findings.labels(dept=dept, dimension=dimension, reason=reason).inc(count)
    for (dept, reason), count in (dead_letters or Counter()).items():
        metrics.dlq_events.labels(stage=stage, dept=dept, reason=reason).inc(count)
    for (dept, reason), count in (ignored or Counter()).items():
        metrics.ignored_events.labels(stage=stage, dept=dept, reason=reason).inc(count)


def observe_lag(group: str, consumer: Consumer) -> None:
    """Lag of each assigned partition, from the consumer's own positions and watermarks."""
    assignment: list[Any] = consumer.assignment()
    if not assignment:
        return
    for position in consumer.position(assignment):
        if position.offset < 0:
            continue
        _, high = consumer.get_watermark_offsets(position, cached=True)
        if high >= 0:
            metrics.set_consumer_lag(group[:LAG_GROUP_LABEL_MAX], position.topic,
                                     position.partition, max(high - position.offset, 0))
