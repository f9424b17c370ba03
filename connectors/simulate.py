"""Drives the department simulator into the raw topics at a steady rate."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from connectors.publisher import ChangeEventPublisher, DeliveryReport
from connectors.simulator import DepartmentSimulator, SimulatedEvent


@dataclass
class SimulationReport:
    snapshot: int = 0
    changes: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    defects: Counter[str] = field(default_factory=Counter)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)

    @property
    def published(self) -> int:
        return self.snapshot + self.changes


def run_simulation(
    simulator: DepartmentSimulator,
    publishers: dict[str, ChangeEventPublisher],
    rate: float,
    duration_s: float,
    progress: Callable[[int], None] = lambda _: None,
) -> SimulationReport:
    """Publish the initial snapshot, then changes at `rate` events/s for `duration_s`."""
    report = SimulationReport()
    for event in simulator.initial_snapshot():
        _publish(event, publishers, report)
        report.snapshot += 1
    progress(report.published)
    total = int(rate * duration_s)
    started = time.monotonic()
    changes: Iterable[SimulatedEvent] = itertools.islice(simulator.changes(), total)
    for sent, event in enumerate(changes, start=1):
        _publish(event, publishers, report)
        report.changes += 1
        # Pace against the clock, not per event, so a slow moment is caught up afterwards.
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0.005:
            for publisher in publishers.values():
                publisher.poll()
            progress(report.published)
            time.sleep(ahead)
    progress(report.published)
    for publisher in publishers.values():
        delivered = publisher.flush(60)
        report.delivery.sent += delivered.sent
        report.delivery.delivered += delivered.delivered
        report.delivery.failed += delivered.failed
        report.delivery.errors.extend(delivered.errors)
    return report


def _publish(
    event: SimulatedEvent, publishers: dict[str, ChangeEventPublisher], report: SimulationReport
) -> None:
    publishers[event.source].publish(
        event.op,
        before=event.before,
        after=event.after,
        sequence=event.sequence,
        source_ts_ms=event.ts_ms,
        event_id=event.event_id,
    )
    report.by_source[event.source] += 1
    if event.defect is not None:
        report.defects[str(event.defect)] += 1
